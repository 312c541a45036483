/** What `lanes load` sends, to where, and how. */
import type { LoadReport } from "./report.ts";
import type { Threshold } from "./threshold.ts";

export interface Target {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
}

export type Model = "open" | "closed";

export interface LoadOptions {
  target: Target;
  /** `open`: a constant arrival rate (`--rate`); `closed`: a fixed number of connections. */
  model: Model;
  /** Requests per second asked for (open model). */
  rate: number | null;
  /** Closed model: the connections; open model: the most connections it may open. */
  connections: number;
  durationS: number;
  /** How long one request may take, from its (intended) start, before it counts as a timeout. */
  timeoutS: number;
  thresholds: Threshold[];
  /** Where to write the JSON report. */
  jsonFile?: string;
  /** Where to write load.json and load.svg. */
  outDir?: string;
  /** An earlier `--json` run to compare with. */
  baseline?: { file: string; report: LoadReport };
  /** The command line, recorded in the JSON. */
  command: string;
  /** Aborted (the user's Ctrl-C): the run stops there and reports what it measured so far. */
  stop?: AbortSignal;
}

export const DEFAULTS = {
  durationS: 10,
  timeoutS: 10,
  /** Closed model, as autocannon's own default. */
  connections: 10,
  /** Open model: enough for 1,000 req/s at half a second each; past it, the run says so. */
  maxConnections: 512,
};

/** A request that starts later than this after its intended time counts as late. */
export const LATE_MS = 10;
/** The open model kept up when no more than this share of requests started late. */
export const LATE_SHARE = 0.01;
/**
 * A closed-model generator busy for this share of a core or more was the limit, not the server:
 * autocannon sends from one thread (../README.md, `lanes load URL`).
 */
export const BUSY_CORES = 0.9;
