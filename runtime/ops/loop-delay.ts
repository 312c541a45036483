/**
 * The host's event-loop delay: a timer due every SAMPLE_MS, and how late it fires. A request the
 * host's thread could not start because it was busy waits about that long. Measured the same way
 * on every runtime, with timers only: `perf_hooks.monitorEventLoopDelay` reports next to nothing
 * on Deno and counts differently on Bun than on Node (../../adapters/README.md, Metrics).
 */
import { Buckets, LOOP_BOUNDS_MS } from "./buckets.ts";

const SAMPLE_MS = 50;

export interface LoopDelay {
  readonly delays: Buckets;
  /** The longest delay since the last call (ms). */
  takeMax(): number;
  stop(): void;
}

export function sampleLoopDelay(): LoopDelay {
  const delays = new Buckets(LOOP_BOUNDS_MS);
  let max = 0;
  let due = performance.now() + SAMPLE_MS;
  let timer: ReturnType<typeof setTimeout>;
  const tick = () => {
    const now = performance.now();
    const late = Math.max(0, now - due);
    delays.observe(late);
    if (late > max) max = late;
    due = now + SAMPLE_MS;
    timer = setTimeout(tick, SAMPLE_MS);
    (timer as { unref?: () => void }).unref?.();
  };
  timer = setTimeout(tick, SAMPLE_MS);
  (timer as { unref?: () => void }).unref?.();
  return {
    delays,
    takeMax() {
      const m = max;
      max = 0;
      return m;
    },
    stop: () => clearTimeout(timer),
  };
}
