/**
 * What a load run saw, fed by either model: every answer's latency into a high-dynamic-range
 * histogram (the whole run, and one per time bucket for the chart), status codes, errors by
 * kind, bytes. Latencies are kept in microseconds, so sub-millisecond answers keep their digits.
 * https://github.com/HdrHistogram/HdrHistogramJS
 */
import { build, type Histogram } from "hdr-histogram-js";

export type ErrorKind = "timeout" | "reset" | "refused" | "other";
export const ERROR_KINDS: readonly ErrorKind[] = ["timeout", "reset", "refused", "other"];

export interface Bucket {
  answered: number;
  errors: number;
  latency: Histogram;
}

function histogram(digits: 2 | 3): Histogram {
  // 3 significant digits for the run (0.1% error); the per-bucket ones only draw a line
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: digits, autoResize: true });
}

export class Recorder {
  readonly latency = histogram(3);
  readonly buckets: Bucket[] = [];
  readonly status = new Map<number, number>();
  readonly errors: Record<ErrorKind, number> = { timeout: 0, reset: 0, refused: 0, other: 0 };
  /** The first message seen of each kind, to say what "other" was. */
  readonly errorSamples: Partial<Record<ErrorKind, string>> = {};
  bytesReceived = 0;
  bytesSent = 0;

  constructor(readonly bucketMs: number) {}

  get answered(): number {
    return this.latency.totalCount;
  }

  get failed(): number {
    return this.errors.timeout + this.errors.reset + this.errors.refused + this.errors.other;
  }

  /** An answer: `atMs` is when the request started (or was meant to), from the run's start. */
  response(atMs: number, latencyMs: number, status: number, bytes: number): void {
    const us = toMicros(latencyMs);
    this.latency.recordValue(us);
    const b = this.bucket(atMs);
    b.answered++;
    b.latency.recordValue(us);
    this.status.set(status, (this.status.get(status) ?? 0) + 1);
    this.bytesReceived += bytes;
  }

  error(atMs: number, kind: ErrorKind, message: string): void {
    this.errors[kind]++;
    this.errorSamples[kind] ??= message;
    this.bucket(atMs).errors++;
  }

  /** Answers with a status outside 200-299. */
  get non2xx(): number {
    let n = 0;
    for (const [code, count] of this.status) if (code < 200 || code > 299) n += count;
    return n;
  }

  percentileMs(p: number): number {
    return percentileMs(this.latency, p);
  }

  private bucket(atMs: number): Bucket {
    const i = Math.max(0, Math.floor(atMs / this.bucketMs));
    while (this.buckets.length <= i) this.buckets.push({ answered: 0, errors: 0, latency: histogram(2) });
    return this.buckets[i]!;
  }
}

/**
 * A percentile in ms, never past the max (nor under the min) recorded: the histogram answers with
 * the top of the value's bucket, so ten answers of 307.512 ms had p50 307.711 ms and max 307.512.
 */
export function percentileMs(h: Histogram, p: number): number {
  if (h.totalCount === 0) return 0;
  return Math.min(h.maxValue, Math.max(h.minNonZeroValue, h.getValueAtPercentile(p))) / 1000;
}

export function toMicros(ms: number): number {
  return Math.max(1, Math.round(ms * 1000));
}

/** Sort a failed request into a kind by its error code (the same on Node, Bun and Deno). */
export function errorKind(e: unknown): ErrorKind {
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  if (code === "LANES_LOAD_TIMEOUT" || code === "ETIMEDOUT" || /timed out/i.test(message)) return "timeout";
  if (code === "ECONNREFUSED") return "refused";
  if (code === "ECONNRESET" || code === "EPIPE" || code === "ECONNABORTED" || /socket hang up/i.test(message)) return "reset";
  return "other";
}
