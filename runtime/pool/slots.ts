/** Where a request can run now: the ready instances' free slots, `concurrency` each. */
import type { Instance } from "./instance.ts";

const serving = (i: Instance): boolean => i.state === "ready" && i.fatal === undefined;

/** The least-busy ready instance with a free slot. */
export function pick(instances: readonly Instance[], concurrency: number): Instance | undefined {
  let best: Instance | undefined;
  for (const i of instances) {
    if (!serving(i) || i.inflight >= concurrency) continue;
    if (!best || i.inflight < best.inflight) best = i;
  }
  return best;
}

/**
 * Whether another request can be let in: `places` (the queue's, less those held by requests let
 * in already, which may be below 0 when those are bound for instances) plus the ready instances'
 * free slots. The instances are looked at only when the queue has no place left: on the hot path
 * it mostly has.
 */
export function roomFor(instances: readonly Instance[], concurrency: number, places: number): boolean {
  if (places > 0) return true;
  let free = places;
  for (const i of instances) if (serving(i)) free += Math.max(0, concurrency - i.inflight);
  return free > 0;
}
