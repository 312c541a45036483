/**
 * A histogram cell on the hot path: counts per bucket in a typed array, a sum and a count. One
 * observation is a few comparisons and three additions, with no allocation; the Prometheus
 * histogram (cumulative `le` buckets, `+Inf`, `_sum`, `_count`) is built from it at scrape time.
 */
export class Buckets {
  /** Per bucket, not cumulative; the last one is `+Inf`. */
  readonly counts: Float64Array;
  /** In the unit observed (ms). */
  sum = 0;
  count = 0;

  /** `bounds` in ms, ascending. */
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(ms: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && ms > b[i]!) i++;
    this.counts[i]!++;
    this.sum += ms;
    this.count++;
  }
}

/** Request durations, ms: from half a millisecond (a hop) to the longest timeouts. */
export const REQUEST_BOUNDS_MS = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000];
/** Instance cold starts, ms: a few ms for an isolate on Bun to seconds for a child under load. */
export const START_BOUNDS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 15_000];
/** Event-loop delay, ms. */
export const LOOP_BOUNDS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500];
