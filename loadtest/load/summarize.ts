/** From what a run recorded to the figures of its report, and the verdict on the generator. */
import { BUSY_CORES, LATE_MS, LATE_SHARE, type LoadOptions } from "./options.ts";
import type { ClosedStats } from "./closed-model.ts";
import type { OpenStats } from "./open-model.ts";
import { percentileMs, type Recorder } from "./recorder.ts";
import type { Latency, LoadReport } from "./report.ts";
import type { Figures } from "./threshold.ts";

export type RunStats = { model: "open"; stats: OpenStats } | { model: "closed"; stats: ClosedStats };

/** Percentiles drawn in the distribution chart (and kept in the JSON). */
const PERCENTILES = [0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 97.5, 99, 99.5, 99.75, 99.9, 99.95, 99.99, 99.995, 99.999];

export function latencyOf(rec: Recorder): Latency {
  const h = rec.latency;
  const empty = h.totalCount === 0;
  return {
    p50: rec.percentileMs(50),
    p90: rec.percentileMs(90),
    p99: rec.percentileMs(99),
    p99_9: rec.percentileMs(99.9),
    max: empty ? 0 : h.maxValue / 1000,
    // the histogram's mean is of its buckets' middles: kept within what was recorded, as the percentiles
    mean: empty ? 0 : Math.min(h.maxValue, Math.max(h.minNonZeroValue, h.mean)) / 1000,
    min: empty ? 0 : h.minNonZeroValue / 1000,
  };
}

type Body = Omit<LoadReport, "version" | "meta" | "thresholds">;

/** `cpuS`: CPU seconds the generator's process used while it ran. */
export function summarize(rec: Recorder, run: RunStats, o: LoadOptions, cpuS: number): Body {
  const failed = rec.failed;
  const sent = run.stats.sent;
  const elapsedS = run.stats.elapsedS;
  const cpuCores = elapsedS > 0 ? cpuS / elapsedS : 0;
  const achieved = run.model === "open" ? run.stats.achievedRate : elapsedS > 0 ? sent / elapsedS : 0;
  return {
    requests: { sent, answered: rec.answered, failed, notStarted: run.model === "open" ? run.stats.notStarted : 0 },
    rate: { asked: o.rate, achieved },
    latencyMs: latencyOf(rec),
    status: Object.fromEntries([...rec.status].sort(([a], [b]) => a - b).map(([code, n]) => [String(code), n])),
    errors: { ...rec.errors, total: failed, share: rec.answered + failed === 0 ? 0 : failed / (rec.answered + failed), samples: rec.errorSamples },
    non2xx: rec.non2xx,
    bytes: { received: rec.bytesReceived, perSecond: elapsedS > 0 ? rec.bytesReceived / elapsedS : 0 },
    generator: run.model === "open" ? openVerdict(run.stats, o, achieved, cpuCores) : closedVerdict(cpuCores),
    series: rec.buckets.map((b, i) => ({
      atS: round((i * rec.bucketMs) / 1000, 3),
      answered: b.answered,
      errors: b.errors,
      p50Ms: percentileMs(b.latency, 50),
      p99Ms: percentileMs(b.latency, 99),
      maxMs: b.answered ? b.latency.maxValue / 1000 : 0,
    })),
    distribution: distribution(rec),
  };
}

function openVerdict(s: OpenStats, o: LoadOptions, achieved: number, cpuCores: number): LoadReport["generator"] {
  const problems: string[] = [];
  const asked = o.rate ?? 0;
  const fromSchedule = s.sent - s.waitedForConnection;
  if (fromSchedule > 0 && s.late / fromSchedule > LATE_SHARE) {
    problems.push(
      `${s.late} of ${fromSchedule} requests (${pct(s.late / fromSchedule)}) started more than ${LATE_MS} ms behind schedule ` +
        `(lag p99 ${s.startLagMs.p99.toFixed(1)} ms, max ${s.startLagMs.max.toFixed(1)} ms): the load generator was short of CPU, ` +
        `and the latencies include its delay`,
    );
  }
  if (s.waitedForConnection > 0) {
    problems.push(
      `${s.waitedForConnection} requests waited for a connection because all ${o.connections} were busy; the wait counts in their ` +
        `latency, but the server saw fewer requests at once than the rate would send: raise --max-connections`,
    );
  }
  if (s.notStarted > 0) {
    problems.push(`${s.notStarted} requests never started: no connection came free within their ${o.timeoutS} s timeout`);
  }
  if (problems.length === 0 && achieved < asked * 0.95) {
    problems.push(`it sent ${achieved.toFixed(1)} req/s, under the ${asked} asked`);
  }
  return {
    keptUp: problems.length === 0,
    problems,
    cpuCores,
    startLagMs: s.startLagMs,
    late: s.late,
    waitedForConnection: s.waitedForConnection,
    connectionsOpened: s.connectionsOpened,
    peakInFlight: s.peakInFlight,
  };
}

/**
 * A closed model has no schedule to fall behind: the connections send as fast as answers come.
 * But its one thread can be what runs out first (taking in every answer costs most for large
 * ones), and then the rate is the generator's, not the server's.
 */
export function closedVerdict(cpuCores: number): LoadReport["generator"] {
  const problems =
    cpuCores >= BUSY_CORES
      ? [
          `the load generator was busy for ${cpuCores.toFixed(2)} of a core, and autocannon sends from one thread: the rate above may be ` +
            `its limit, not the server's. Taking in every answer costs most for large ones; ` +
            `run lanes load from another machine, or use --rate to hold a rate below this one`,
        ]
      : [];
  return { keptUp: problems.length === 0, problems, cpuCores, startLagMs: null, late: 0, waitedForConnection: 0, connectionsOpened: null, peakInFlight: null };
}

function distribution(rec: Recorder): LoadReport["distribution"] {
  const n = rec.latency.totalCount;
  if (n === 0) return [];
  // past 1 - 1/n a percentile is just the max: stop there
  const points = PERCENTILES.filter((p) => p === 0 || 1 - p / 100 >= 1 / n).map((p) => ({ percentile: p, ms: rec.percentileMs(p) }));
  points.push({ percentile: 100, ms: rec.latency.maxValue / 1000 });
  return points;
}

/** The figures thresholds are checked against. */
export function figuresOf(r: Pick<LoadReport, "latencyMs" | "requests" | "errors" | "non2xx" | "rate">): Figures {
  const l = r.latencyMs;
  return {
    latencyMs: { p50: l.p50, p90: l.p90, p99: l.p99, "p99.9": l.p99_9, max: l.max, mean: l.mean },
    requests: r.requests.answered + r.requests.failed,
    answered: r.requests.answered,
    errors: r.errors.total,
    non2xx: r.non2xx,
    rate: r.rate.achieved,
  };
}

export function pct(x: number): string {
  return `${(x * 100).toFixed(x < 0.001 && x > 0 ? 3 : x < 0.1 ? 2 : 1)}%`;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
