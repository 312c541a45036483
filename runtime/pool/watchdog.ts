/**
 * The memory watchdog: every POLL_MS it reads what each instance holds and stops one over its
 * limit, with a "ran out of memory" 502 for what it was running.
 *
 * - Process lane: the child's resident memory (RSS). Node and Deno children abort at their heap
 *   flag first; for them it is a backstop for memory outside the JS heap (ArrayBuffers, native
 *   buffers), which no heap flag counts. Bun has no heap flag (`--smol` does not cap), and a bun
 *   child keeps the pages it frees (MIMALLOC_PURGE_DELAY=-1, child-args.ts), so its RSS is its
 *   high-water mark, garbage included: over memoryMb + BUN_RUNTIME_MB it is asked for its heap
 *   after a full collection (Bun counts ArrayBuffers in it), which must be within memoryMb, and
 *   over the backstop it is stopped whatever it holds.
 * - Isolate lane: a worker shares the host's RSS, so the guest reports its own isolate's heap
 *   and external memory (ArrayBuffers), and heap plus external over `memoryMb` stops it. The
 *   heap alone is capped by V8 (resourceLimits); this catches the ArrayBuffers V8 does not
 *   count. Bun reports only part of a worker's ArrayBuffers (../../adapters/README.md, Workers).
 *   Those figures include garbage not yet collected: a function that echoes uploads made and
 *   dropped more than its limit between two collections and was stopped for it. So a reading
 *   over the limit only asks for another, taken after a full collection in the guest, and that
 *   one decides, as a runtime's own heap limit collects before it gives up.
 *
 * It also stops a process-lane child that runs on without its channel to the host (it closed
 * its stdin or stdout, or opened something else in their place: adapters/channel-fds.ts), with
 * a 502 for what it was running, where its requests would have waited for timeoutMs.
 */
import type { FunctionSpec } from "../manifest/load.ts";
import type { Instance } from "./instance.ts";

export const POLL_MS = 250;
/**
 * The most threads a process-lane child may run. Each thread takes one of the machine's process
 * ids (32,768 on many kernels) and kernel memory no RSS shows, and the sandbox can count neither:
 * its user is the host's, which RLIMIT_NPROC does not bind when that is root (../../adapters/README.md,
 * Sandbox). A bun child started 300 idle threads through bun:ffi in 11 ms. A runtime runs 6-20,
 * a worker thread a few more, and libuv's pool at most 1024. Where the host can, a pids cgroup
 * per child holds it to this many at once (../../adapters/pids-cgroup.ts); elsewhere only this
 * watchdog's readings do, one poll late: a burst reached 2,169-2,965 before one saw it.
 */
export const MAX_THREADS = 2048;
const MB = 1024 * 1024;
/** A bun child's own footprint (25-44 MB idle, ../../adapters/README.md) on top of memoryMb. */
const BUN_RUNTIME_MB = 48;
/** Node/Deno: well past the point where the heap flag fires, so the flag stays the usual cause. */
const BACKSTOP_RUNTIME_MB = 128;
/** A bun child over its RSS limit whose heap was within memoryMb is asked again after this, or once its RSS grew by BUN_REASK_MB. */
const BUN_REASK_MS = 10_000;
const BUN_REASK_MB = 8;

/** The memory limit of one instance in MB, and what it is measured on. */
export function memoryLimit(spec: FunctionSpec): { mb: number; of: "rss" | "heap+external" } {
  if (spec.lane === "isolate") return { mb: spec.memoryMb, of: "heap+external" };
  if (spec.runtime === "bun") return { mb: spec.memoryMb + BUN_RUNTIME_MB, of: "rss" };
  return { mb: backstopMb(spec), of: "rss" };
}

function backstopMb(spec: Pick<FunctionSpec, "memoryMb">): number {
  return 2 * spec.memoryMb + BACKSTOP_RUNTIME_MB;
}

/**
 * The largest frame a process-lane child may send its host: no more than its instance may hold
 * (a whole answer's body is in the child first), and room for a frame's head.
 */
export function childFrameLimit(spec: Pick<FunctionSpec, "runtime" | "memoryMb">): number {
  return (spec.runtime === "bun" ? spec.memoryMb + BUN_RUNTIME_MB : backstopMb(spec)) * MB + 64 * 1024;
}

/** Starts polling; returns the function that stops it. */
export function watchMemory(
  instances: readonly Instance[],
  spec: FunctionSpec,
  over: (instance: Instance, why: string, cause?: "channel_closed" | "thread_limit") => void,
): () => void {
  // packed functions share their worker's heap: no figure is theirs alone (runtime/pack/house.ts)
  if (spec.pack) return () => {};
  const { mb, of } = memoryLimit(spec);
  const limit = mb * MB;
  /** Instances asked for a reading after a collection, not yet answered. */
  const collecting = new WeakSet<Instance>();
  /** Bun children over their RSS limit: when they were asked for a reading after a collection (not yet answered). */
  const asked = new WeakMap<Instance, number>();
  /** Bun children over their RSS limit whose heap after a collection was within memoryMb: when, at what RSS. */
  const cleared = new WeakMap<Instance, { at: number; rss: number }>();
  const bunChild = of === "rss" && spec.runtime === "bun";
  const timer = setInterval(() => {
    for (const inst of instances) {
      if (inst.state === "dead" || inst.stopping) continue;
      if (of === "rss") {
        const lost = inst.channelLost();
        if (lost) {
          over(inst, lost, "channel_closed");
          continue;
        }
        // a child in a pids cgroup of its own was refused a thread (or process) past the limit by
        // the kernel, at once; without one, a reading past it is all there is, one poll late
        const refused = inst.refusedTasks();
        if (refused) {
          over(inst, `tried to run more than the ${MAX_THREADS} threads a process-lane child may run (its pids cgroup refused ${refused})`, "thread_limit");
          continue;
        }
        const threads = inst.threads();
        if (threads !== undefined && threads > MAX_THREADS) {
          over(inst, `ran ${threads} threads, over the ${MAX_THREADS} a process-lane child may run`, "thread_limit");
          continue;
        }
        const rss = inst.rss();
        if (rss === undefined || rss <= limit) continue;
        const usedRss = `ran out of memory: it used ${Math.round(rss / MB)} MB, over its limit of ${mb} MB (memoryMb ${spec.memoryMb})`;
        if (!bunChild || rss > backstopMb(spec) * MB) over(inst, usedRss);
        else judgeBunHeap(inst, rss);
        continue;
      }
      // the answer to this measurement arrives with a later poll's reading
      const { heap, external, collected } = inst.memory;
      if (heap + external > limit) {
        if (collected) over(inst, `ran out of memory: it held ${Math.round((heap + external) / MB)} MB of heap and ArrayBuffers, over its memoryMb of ${mb}`);
        else if (!collecting.has(inst)) {
          collecting.add(inst);
          inst.measure(true);
        }
        continue;
      }
      collecting.delete(inst);
      if (inst.state === "ready" || inst.state === "retiring") inst.measure();
    }
  }, POLL_MS);
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);

  /** A bun child over its RSS limit: its heap after a full collection decides (asked for, then read at a later poll). */
  function judgeBunHeap(inst: Instance, rss: number): void {
    const { heap, collected } = inst.memory;
    const since = asked.get(inst);
    // an answer to the last question, if it came within a few seconds (an older one is stale)
    const fresh = since !== undefined && Date.now() - since < 5000;
    // not answered yet (asked again after a second: a liveness ping's answer may have replaced it)
    if (fresh && !collected && Date.now() - since < 1000) return;
    if (fresh && collected) {
      asked.delete(inst);
      if (heap > spec.memoryMb * MB) {
        over(
          inst,
          `ran out of memory: it held ${Math.round(heap / MB)} MB of heap and ArrayBuffers after a collection (${Math.round(rss / MB)} MB resident), over its memoryMb of ${spec.memoryMb}`,
        );
      } else cleared.set(inst, { at: Date.now(), rss });
      return;
    }
    const last = cleared.get(inst);
    if (since === undefined && last && Date.now() - last.at < BUN_REASK_MS && rss - last.rss < BUN_REASK_MB * MB) return;
    asked.set(inst, Date.now());
    inst.memory = { ...inst.memory, collected: false };
    inst.measure(true);
  }
}
