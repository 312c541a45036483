/**
 * The RSS watchdog of the process lane: every RSS_POLL_MS it reads each child's resident memory
 * and stops a child over its limit, with a "ran out of memory" 502 for what it was running.
 *
 * Bun has no heap flag (`--smol` does not cap, runtime-matrix P4g), so for bun children this is
 * how `memoryMb` is enforced. Node and Deno children abort at their heap flag first; for them it
 * is a backstop for memory outside the JS heap (ArrayBuffers, native buffers), which no heap
 * flag counts. Workers share the host's RSS and have no per-thread figure: not watched.
 */
import type { FunctionSpec } from "../manifest/load.ts";
import type { Instance } from "./instance.ts";

export const RSS_POLL_MS = 250;
/** A bun child's own footprint (about 25-30 MB idle, runtime-matrix P9) on top of memoryMb. */
const BUN_RUNTIME_MB = 48;
/** Node/Deno: well past the point where the heap flag fires, so the flag stays the usual cause. */
const BACKSTOP_RUNTIME_MB = 128;

/** The RSS limit of one instance in MB, or undefined when it is not watched (isolate lane). */
export function rssLimitMb(spec: FunctionSpec): number | undefined {
  if (spec.lane !== "process") return undefined;
  if (spec.runtime === "bun") return spec.memoryMb + BUN_RUNTIME_MB;
  return 2 * spec.memoryMb + BACKSTOP_RUNTIME_MB;
}

/** Starts polling; returns the function that stops it. */
export function watchRss(
  instances: readonly Instance[],
  limitMb: number,
  over: (instance: Instance, rssMb: number) => void,
): () => void {
  const limit = limitMb * 1024 * 1024;
  const timer = setInterval(() => {
    for (const inst of instances) {
      if (inst.state === "dead" || inst.stopping) continue;
      const rss = inst.rss();
      if (rss !== undefined && rss > limit) over(inst, Math.round(rss / (1024 * 1024)));
    }
  }, RSS_POLL_MS);
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}
