/**
 * The shape of a bench run, as written to `bench.json`. Figures are per cell: one workload in one
 * lane (or `direct`, the handler called on the host's own thread) on one host runtime.
 */
import type { RuntimeName } from "../../adapters/types.ts";
import type { Lane } from "../../runtime/manifest/schema.ts";
import type { Measured } from "./load.ts";

export type BenchLane = Lane | "direct";
export type BenchRuntime = RuntimeName;

export interface BenchResult extends Measured {
  workload: string;
  lane: BenchLane;
  runtime: BenchRuntime;
  /** Runtime of the process-lane children (the host's unless the manifest pins one). */
  childRuntime?: BenchRuntime;
  /** Host process plus its process-lane children, at the end of the measured window. */
  rssMb: number;
  hostRssMb: number;
  instancesRssMb: number;
  /** Memory one idle instance adds: host growth for an isolate, the child's RSS for a process. */
  idleInstanceMb: number | null;
  instances: number;
  /** First request to a cold function minus a warm request: what a cold start costs a client. */
  coldStartMs: number | null;
  /** Median latency of one request at a time, warm. */
  warmMs: number;
  /** CPU time (host and children) per request, under load. */
  cpuMsPerRequest: number;
  /**
   * Of cpuMsPerRequest: the host process's share (every thread of it: the server, isolate-lane
   * workers, the garbage collector's helpers) and its children's (process-lane instances and
   * their sandboxes). With rounds, each is the median of the rounds.
   */
  hostCpuMsPerRequest: number;
  childrenCpuMsPerRequest: number;
  /**
   * Minor page faults per request, the host process's and its children's: memory touched afresh,
   * as when an allocator gives back what it freed and the next large array faults it in again
   * (../README.md, The hot path). With rounds, each is the median of the rounds.
   */
  faultsPerRequest: { host: number; children: number };
  /**
   * Lane overhead: cpuMsPerRequest minus the direct baseline's, in µs (lanes only). With rounds,
   * the median of each round's difference with that round's direct cell.
   */
  overheadUs?: number;
  /** Bytes of one request body and of one response body. */
  requestBytes: number;
  responseBytes: number;
  /**
   * Cores' worth of CPU that other processes on the machine used while this cell was measured.
   * Figures from cells where it is high are not comparable: the host did not have the cores.
   */
  foreignCpu: number;
  /**
   * Cores' worth of CPU the bench process (autocannon, one thread) used while this cell was
   * measured. Near 1 the load generator set the rate, not the host (../README.md, How a
   * cell is measured).
   */
  generatorCores: number;
  /** Instances the pool replaced during the cell (crash history). */
  restarts: number;
  /** The endpoint's answer did not pass its check: figures are not comparable. */
  checkError?: string;
  /** With `--rounds N` (N > 1): each round's figures, in the order they were measured. */
  rounds?: RoundFigures[];
  /** With rounds: the median of each round's req/s over that round's direct req/s. */
  xDirect?: number;
}

/** One round of one cell; the overhead is against the direct cell of the same round. */
export interface RoundFigures {
  rps: number;
  cpuMsPerRequest: number;
  foreignCpu: number;
  generatorCores: number;
  overheadUs?: number;
  xDirect?: number;
}

export interface CrashResult {
  lane: "isolate" | "process";
  runtime: BenchRuntime;
  /** `exit`: the instance exits (uncaught error). `abort`: a native abort, as a crashing addon would. */
  mode: "exit" | "abort";
  /** Status the crashing request got (0: the connection dropped). */
  crashStatus: number;
  /** The host still answered its other function afterwards. */
  hostSurvived: boolean;
  /** Requests to another function, in flight around the crash, that failed. */
  othersFailed: number;
  othersSent: number;
  /** From the crash until the crashed function answered again; null if it never did. */
  recoveryMs: number | null;
}

/**
 * Process-lane cold starts with and without the OS sandbox (sandbox-cost.ts), host and child on
 * `runtime`: each a new instance of the same function.
 */
export interface SandboxCost {
  runtime: BenchRuntime;
  sandboxedMs: number[];
  unsandboxedMs: number[];
  medianSandboxedMs: number;
  medianUnsandboxedMs: number;
  /** Why it was not measured (no bubblewrap here). */
  error?: string;
}

export interface BenchMeta {
  startedAt: string;
  finishedAt: string;
  /** The functions folder, relative to where the bench ran. */
  dir: string;
  command: string;
  cpuModel: string;
  cores: number;
  memoryGb: number;
  os: string;
  loadGenerator: string;
  versions: Partial<Record<BenchRuntime, string>> & { lanes: string; autocannon: string };
  durationS: number;
  warmupS: number;
  connections: number;
  /** Longest wait per cell for other processes to go quiet (`--settle`). */
  settleS: number;
  /** Times each function's cells were measured, in turn (`--rounds`); figures are medians. */
  rounds: number;
  quick: boolean;
}

export interface Advice {
  function: string;
  lane: "isolate" | "process";
  why: string;
}

export interface BenchReport {
  meta: BenchMeta;
  results: BenchResult[];
  crashes: CrashResult[];
  sandboxCosts: SandboxCost[];
  advice: Advice[];
}
