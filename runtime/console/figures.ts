/**
 * The one place the console reads the request figures of /_lanes/metrics: each function
 * version's meter (runtime/ops/meter.ts), counted on the request path for the metrics and read
 * here, so the console's charts and a Prometheus scrape show the same requests.
 */
import type { Served } from "../host/served.ts";

/** What one function version's meter has counted so far. */
export interface Figures {
  /** The meter itself: what the sampler remembers its last reading by. */
  key: object;
  requests: number;
  /** Answers of 500 and above. */
  errors: number;
  /** The duration histogram: bucket bounds in ms, per-bucket counts (the last one +Inf). */
  bounds: readonly number[];
  counts: ArrayLike<number>;
}

/** Every function name served, with the figures of each of its versions (a meter shared by two entries is read once). */
export function figuresByName(served: readonly Served[]): Map<string, Figures[]> {
  const out = new Map<string, Figures[]>();
  const seen = new Set<object>();
  for (const s of served) {
    let list = out.get(s.spec.name);
    if (!list) {
      list = [];
      out.set(s.spec.name, list);
    }
    const m = s.meter;
    if (!m || seen.has(m)) continue;
    seen.add(m);
    let errors = 0;
    for (let code = 500; code < 600; code++) errors += m.statuses[code]!;
    list.push({ key: m, requests: m.duration.count, errors, bounds: m.duration.bounds, counts: m.duration.counts });
  }
  return out;
}
