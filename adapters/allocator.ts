/**
 * What a process's allocator is told so that it keeps the memory it frees for the next large
 * arrays, instead of giving it back to the OS after each burst and faulting it in again, page by
 * page: process-lane children (child-args.ts), the hosts (a Node host through the environment the
 * CLI starts it with, env.ts; a Deno host through `mallopt`, malloc-trim.ts) and the bench's load
 * generator (loadtest/harness/host-process.ts). The measurements are in
 * README.md in this folder (Child processes, Memory).
 */
import type { RuntimeName } from "./types.ts";

/**
 * glibc's thresholds (Node and Deno allocate ArrayBuffers and their own buffers with glibc's
 * malloc): blocks up to 4 MB from the heap, up to `keepMb` of freed heap kept, and 16 MB (at most
 * `keepMb`) to spare at each growth. All three together: setting any one pins glibc's others at
 * their low defaults, where they would otherwise move with what was last freed.
 */
export function glibcKeeps(keepMb: number): { mmapThreshold: number; trimThreshold: number; topPad: number } {
  return { mmapThreshold: 4 << 20, trimThreshold: keepMb << 20, topPad: Math.min(16, keepMb) << 20 };
}

/** The same as a process's environment: glibc's thresholds for Node and Deno, mimalloc's purging off for Bun. */
export function keepingEnv(runtime: RuntimeName, keepMb: number): Record<string, string> {
  if (runtime === "bun") return { MIMALLOC_PURGE_DELAY: "-1" };
  const g = glibcKeeps(keepMb);
  return { MALLOC_MMAP_THRESHOLD_: String(g.mmapThreshold), MALLOC_TRIM_THRESHOLD_: String(g.trimThreshold), MALLOC_TOP_PAD_: String(g.topPad) };
}

/** Whether an operator tunes an allocator through `env` (adapters/env.ts lets `MALLOC_*` and `MIMALLOC_*` through): then lanes leaves it so. */
export function allocatorTunedIn(env: Record<string, string | undefined>): boolean {
  return Object.keys(env).some((name) => /^(MI)?MALLOC_[A-Z_]+$/.test(name));
}

/** How much freed heap a Node host keeps: it cannot trim when quiet (Node 20 has no FFI), so less than a child or a Deno host. */
const NODE_HOST_KEEP_MB = 32;

/**
 * What a host's allocator is told through its environment, which must be set before the runtime
 * starts: a Node host's glibc keeps up to NODE_HOST_KEEP_MB (under `body` through the isolate
 * lane it faulted 32 times a request, and served 22-43% more with this); a Deno host sets its own
 * at start-up (malloc-trim.ts); a Bun host keeps mimalloc's default, whose purging gives memory
 * back when quiet (README.md in this folder, Memory). Nothing where the operator tuned it.
 */
export function hostAllocatorEnv(host: RuntimeName, env: Record<string, string | undefined>): Record<string, string> {
  return host === "node" && !allocatorTunedIn(env) ? keepingEnv("node", NODE_HOST_KEEP_MB) : {};
}
