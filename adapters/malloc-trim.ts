/**
 * Deno host only: glibc's `malloc_trim(0)` after the host's idle collections, through Deno's FFI.
 * Deno's own buffers (request and response bodies, kept by its Rust side) come from glibc's
 * malloc, which keeps freed memory in its arenas rather than give it back: after six waves of
 * 100 concurrent 256 KiB uploads, a quiet Deno host stayed 41-45 MB above where it started
 * (148-152 MB), and 88-93 MB with a trim after the collection (adapters/README.md, Memory).
 * Bun needs none: it allocates with mimalloc. Node would (a gone thread's arena stays resident:
 * adapters/README.md, Memory), but Node 20 has no FFI. Where the call cannot be made (libc.ts),
 * nothing is trimmed and nothing is said.
 */
import { libc } from "./libc.ts";

export function trimMalloc(): void {
  libc()?.malloc_trim(0);
}
