/**
 * Memory comes back when the host goes quiet. Reaping idle instances and stopping empty packed
 * workers frees their memory, but V8 keeps the host's young generation at the size a burst of
 * requests grew it to (16 MB semi-spaces on Node 20) until a full collection runs while the
 * allocation rate is low. So once nothing has changed for QUIET_MS (no request, no instance
 * started or stopped), the host collects garbage twice, 6 s apart by default: the first one
 * makes the allocation rate V8 measures low, so the second shrinks the young generation.
 * Measured in ../../adapters/README.md, Memory.
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";

/** How long the host must be quiet before it collects; the tick and the second collection scale with it. */
const QUIET_MS = 5000;

/**
 * `state()` changes whenever the host's work does (requests seen, instances alive); `release`
 * lets go of memory kept for reuse, before the first collection. Returns a stop function.
 */
export function reduceMemoryWhenQuiet(adapter: RuntimeAdapter, state: () => string, release: () => void = () => {}, quietMs = QUIET_MS): () => void {
  // with the default: a look every 2 s, the second collection 6 s after the first
  const tickMs = (quietMs * 2) / 5;
  const secondMs = (quietMs * 6) / 5;
  let last = state();
  let changedAt = Date.now();
  let dirty = false;
  let secondAt = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    const s = state();
    if (s !== last) {
      last = s;
      changedAt = now;
      dirty = true;
      secondAt = 0;
      return;
    }
    if (now - changedAt < quietMs) return;
    if (dirty) {
      dirty = false;
      secondAt = now + secondMs;
      release();
      adapter.collectGarbage();
    } else if (secondAt > 0 && now >= secondAt) {
      secondAt = 0;
      adapter.collectGarbage();
    }
  }, tickMs);
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}
