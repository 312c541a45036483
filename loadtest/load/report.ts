/**
 * The shape of a `lanes load` run, as `--json` writes it and `--compare` reads it back.
 * Latencies are in ms; `p99_9` is the 99.9th percentile.
 */
import type { ErrorKind } from "./recorder.ts";
import type { Model } from "./options.ts";
import type { ThresholdResult } from "./threshold.ts";

export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  p99_9: number;
  max: number;
  mean: number;
  min: number;
}

export interface LoadReport {
  /** Bumped when a field changes meaning; `--compare` refuses another version. */
  version: 1;
  meta: {
    startedAt: string;
    finishedAt: string;
    command: string;
    url: string;
    method: string;
    /** Header names only: values may hold credentials. */
    headerNames: string[];
    bodyBytes: number;
    model: Model;
    /** Requests per second asked for (open model), else null. */
    rate: number | null;
    /** Closed model: connections; open model: the most it could open. */
    connections: number;
    durationS: number;
    /** Seconds into the run when the user stopped it (Ctrl-C); absent when it ran its whole duration. */
    interruptedAtS?: number;
    timeoutS: number;
    /** What sent the requests, on which runtime. */
    generator: string;
    machine: { cpuModel: string; cores: number; memoryGb: number; os: string };
  };
  requests: {
    /** Went out on a connection. */
    sent: number;
    /** Got an HTTP answer (any status). */
    answered: number;
    /** Got no answer: timeout, reset, refused, other. */
    failed: number;
    /** Open model: were due but never went out (no free connection before their timeout). */
    notStarted: number;
  };
  rate: {
    asked: number | null;
    /**
     * Requests sent per second. Open model: the least-squares slope of send times over the
     * schedule (send-rate.ts); closed model: requests sent over the run's duration.
     */
    achieved: number;
  };
  latencyMs: Latency;
  /** Answers by status code. */
  status: Record<string, number>;
  errors: Record<ErrorKind, number> & {
    total: number;
    /** Failed over sent (0-1). */
    share: number;
    /** The first message seen of each kind. */
    samples: Partial<Record<ErrorKind, string>>;
  };
  non2xx: number;
  bytes: { received: number; perSecond: number };
  /** Whether the load generator did what was asked; when not, the figures are not the server's. */
  generator: {
    keptUp: boolean;
    problems: string[];
    /** CPU the generator's process used over the run, in cores (1 = one core all the time). */
    cpuCores: number;
    /** Open model: how far behind schedule requests started, in ms. */
    startLagMs: { p50: number; p99: number; max: number } | null;
    late: number;
    waitedForConnection: number;
    connectionsOpened: number | null;
    peakInFlight: number | null;
  };
  thresholds: ThresholdResult[];
  /** Per time slice of the run, by when each request started (or was due to). */
  series: { atS: number; answered: number; errors: number; p50Ms: number; p99Ms: number; maxMs: number }[];
  /** Latency by percentile, for the distribution chart. */
  distribution: { percentile: number; ms: number }[];
}

/** The URL as the report and the terminal show it: a password in it is masked, as header values are left out. */
export function shownUrl(url: URL): string {
  if (!url.password) return url.href;
  const masked = new URL(url.href);
  masked.password = "***";
  return masked.href;
}
