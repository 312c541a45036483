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

/** The free slots of the ready instances. */
export function freeSlots(instances: readonly Instance[], concurrency: number): number {
  let free = 0;
  for (const i of instances) if (serving(i)) free += Math.max(0, concurrency - i.inflight);
  return free;
}
