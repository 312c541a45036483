/**
 * Deno host only: how glibc's malloc keeps what the host frees, through Deno's FFI. Deno's own
 * buffers (request and response bodies, kept by its Rust side, and V8's ArrayBuffers) come from
 * glibc's malloc. Bun needs none of this: it allocates with mimalloc. A Node host is told through
 * the environment the CLI starts it with instead (allocator.ts, hostAllocatorEnv): Node 20 has no
 * FFI. Where the calls cannot be made (libc.ts), nothing changes and nothing is said.
 *
 * - `keepFreedMemory`, at start-up: with glibc's own thresholds, which move with what was last
 *   freed, a Deno host relaying 256 KiB bodies gave the top of its heap back after each burst
 *   and faulted it in again, 11 page faults a request; with the thresholds its children get
 *   (allocator.ts) 0.1-0.4, and 10% less CPU a request (README.md in this folder, Memory).
 * - `trimMalloc`, after the host's idle collections: glibc keeps freed memory in its arenas
 *   rather than give it back; after six waves of 100 concurrent 256 KiB uploads, a quiet Deno
 *   host stayed 41-45 MB above where it started (148-152 MB), and 88-93 MB with a trim after the
 *   collection (README.md in this folder, Memory). The trim gives back what `keepFreedMemory` keeps.
 */
import { allocatorTunedIn, glibcKeeps } from "./allocator.ts";
import { libc } from "./libc.ts";

export function trimMalloc(): void {
  libc()?.malloc_trim(0);
}

/** glibc's mallopt parameters (malloc.h). */
const M_TRIM_THRESHOLD = -1;
const M_TOP_PAD = -2;
const M_MMAP_THRESHOLD = -3;

/** glibc's thresholds of allocator.ts, up to 128 MB kept, unless the operator set their own in `env`. Returns whether they were set. */
export function keepFreedMemory(env: Record<string, string | undefined>): boolean {
  if (allocatorTunedIn(env)) return false;
  const c = libc();
  if (!c) return false;
  const g = glibcKeeps(128);
  return c.mallopt(M_MMAP_THRESHOLD, g.mmapThreshold) === 1 && c.mallopt(M_TRIM_THRESHOLD, g.trimThreshold) === 1 && c.mallopt(M_TOP_PAD, g.topPad) === 1;
}
