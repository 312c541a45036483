/** What a bench run covers and how long each measurement lasts. */
import { RUNTIMES } from "../../runtime/manifest/schema.ts";
import type { BenchLane, BenchRuntime } from "./report.ts";

export interface BenchOptions {
  /** Folder with a lanes.json. */
  dir: string;
  /** Only these functions (all when empty). */
  functions: string[];
  lanes: BenchLane[];
  runtimes: BenchRuntime[];
  durationS: number;
  warmupS: number;
  connections: number;
  out: string;
  quick: boolean;
  /** Before measuring a cell, wait up to this many seconds for other processes to go quiet. */
  settleS: number;
  /** Measure each function's cells this many times, in turn, and keep medians (rounds.ts). */
  rounds: number;
  /** Probe what an instance crash does to each lane (kills an isolate-lane host on purpose). */
  crash: boolean;
  /** `--no-metrics`: the measured hosts count no requests for /_lanes/metrics. */
  noMetrics?: boolean;
  /** The command line, recorded in the JSON. */
  command: string;
}

/** A full run: 45 cells of (5 workloads x (2 lanes + direct) x 3 runtimes) fit in ~7 minutes. */
export const FULL = { durationS: 5, warmupS: 1, connections: 50 };
/** `--quick`: enough to see the shape, not to quote. */
// (its warm-up ran 1 s while a run ended only on a whole second: 1 s keeps its figures as they were)
export const QUICK = { durationS: 1, warmupS: 1, connections: 50 };

export const ALL_LANES: BenchLane[] = ["isolate", "process", "direct"];
export const ALL_RUNTIMES: BenchRuntime[] = [...RUNTIMES];
