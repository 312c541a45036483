/**
 * The console's small charts: every SAMPLE_MS, the change in each function's request counters
 * and duration histogram since the last sample (the figures /_lanes/metrics exposes, read from
 * the same meters) becomes one point of requests/s, 5xx/s and p50/p99, the quantiles taken from
 * the histogram's buckets as Prometheus' histogram_quantile() takes them. The last POINTS points
 * are kept per function name, and the host's CPU and memory beside them.
 */
import type { Figures } from "./figures.ts";

export const SAMPLE_MS = 2000;
/** Five minutes of points. */
export const POINTS = 150;

export interface FunctionPoint {
  /** Requests answered in the interval, and of them with 500 and above. */
  requests: number;
  errors: number;
  rps: number;
  errorsPerSecond: number;
  /** ms; null when no request was answered in the interval. */
  p50: number | null;
  p99: number | null;
}

export interface HostPoint {
  /** Cores' worth of CPU the host process used (its isolates included); null when the runtime cannot tell. */
  cpuCores: number | null;
  rssBytes: number;
}

/** Points of one series, oldest first, with their times (epoch ms). */
export interface Series<P> {
  t: number[];
  points: P[];
}

export interface SampleSource {
  /** Each function name served now, with the figures of every version of it (one meter each). */
  figures(): Map<string, Figures[]>;
  rss(): number;
  /** CPU seconds the host used so far; undefined when the runtime cannot tell. */
  cpu(): number | undefined;
}

interface Previous {
  requests: number;
  errors: number;
  counts: Float64Array;
}

export class Sampler {
  readonly host: Series<HostPoint> = { t: [], points: [] };
  readonly functions = new Map<string, Series<FunctionPoint>>();
  /** Per meter: what it had counted at the last sample. */
  private readonly previous = new WeakMap<object, Previous>();
  private lastAt = Date.now();
  private lastCpu: number | undefined;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    private readonly src: SampleSource,
    intervalMs = SAMPLE_MS,
  ) {
    this.lastCpu = src.cpu();
    this.baseline();
    this.timer = setInterval(() => this.sample(), intervalMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Take one sample now. */
  sample(now = Date.now()): void {
    const seconds = Math.max(0.001, (now - this.lastAt) / 1000);
    this.lastAt = now;
    const served = this.src.figures();
    for (const [name, figures] of served) {
      let requests = 0;
      let errors = 0;
      let merged: { bounds: readonly number[]; counts: Float64Array } | undefined;
      for (const f of figures) {
        const prev = this.previous.get(f.key) ?? { requests: 0, errors: 0, counts: new Float64Array(f.counts.length) };
        requests += f.requests - prev.requests;
        errors += f.errors - prev.errors;
        merged ??= { bounds: f.bounds, counts: new Float64Array(f.counts.length) };
        for (let i = 0; i < f.counts.length; i++) merged.counts[i]! += f.counts[i]! - prev.counts[i]!;
        this.previous.set(f.key, { requests: f.requests, errors: f.errors, counts: Float64Array.from(f.counts) });
      }
      const point: FunctionPoint = {
        requests,
        errors,
        rps: round(requests / seconds),
        errorsPerSecond: round(errors / seconds),
        p50: merged ? quantile(0.5, merged.bounds, merged.counts) : null,
        p99: merged ? quantile(0.99, merged.bounds, merged.counts) : null,
      };
      let series = this.functions.get(name);
      if (!series) {
        series = { t: [], points: [] };
        this.functions.set(name, series);
      }
      append(series, now, point);
    }
    for (const name of this.functions.keys()) if (!served.has(name)) this.functions.delete(name);
    const cpu = this.src.cpu();
    const cpuCores = cpu !== undefined && this.lastCpu !== undefined ? round(Math.max(0, cpu - this.lastCpu) / seconds) : null;
    this.lastCpu = cpu;
    append(this.host, now, { cpuCores, rssBytes: this.src.rss() });
  }

  /** What the meters hold at start: counted before the console looked, not in its first point. */
  private baseline(): void {
    for (const figures of this.src.figures().values()) {
      for (const f of figures) this.previous.set(f.key, { requests: f.requests, errors: f.errors, counts: Float64Array.from(f.counts) });
    }
  }
}

function append<P>(s: Series<P>, t: number, p: P): void {
  s.t.push(t);
  s.points.push(p);
  if (s.t.length > POINTS) {
    s.t.shift();
    s.points.shift();
  }
}

/**
 * The q-quantile of a histogram (per-bucket counts, the last one +Inf), interpolated linearly
 * inside its bucket; in the +Inf bucket, the highest finite bound (as histogram_quantile does).
 * https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile
 */
export function quantile(q: number, bounds: readonly number[], counts: ArrayLike<number>): number | null {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total <= 0) return null;
  const rank = q * total;
  let cumulative = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (cumulative + c >= rank && c > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1] ?? null;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return round(lower + (bounds[i]! - lower) * ((rank - cumulative) / c));
    }
    cumulative += c;
  }
  return bounds[bounds.length - 1] ?? null;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
