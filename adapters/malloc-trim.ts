/**
 * Deno host only: glibc's `malloc_trim(0)` after the host's idle collections, through Deno's FFI.
 * Deno's own buffers (request and response bodies, kept by its Rust side) come from glibc's
 * malloc, which keeps freed memory in its arenas rather than give it back: after six waves of
 * 100 concurrent 256 KiB uploads, a quiet Deno host stayed 41-45 MB above where it started
 * (148-152 MB), and 88-93 MB with a trim after the collection (adapters/README.md, Memory).
 * Node and Bun need none: Node's RSS comes back with its second collection, and Bun allocates
 * with mimalloc. Where the call cannot be made (no glibc, or a host run without FFI permission),
 * nothing is trimmed and nothing is said: the host works as before.
 */
interface DenoFfi {
  dlopen(path: string, symbols: { malloc_trim: { parameters: ["usize"]; result: "i32" } }): { symbols: { malloc_trim(pad: number | bigint): number } };
}

/** glibc's malloc_trim, once opened; null where it cannot be. */
let trim: ((pad: number) => number) | null | undefined;

export function trimMalloc(): void {
  if (trim === undefined) {
    try {
      trim = (globalThis as { Deno?: DenoFfi }).Deno?.dlopen("libc.so.6", { malloc_trim: { parameters: ["usize"], result: "i32" } }).symbols.malloc_trim ?? null;
    } catch {
      trim = null;
    }
  }
  trim?.(0);
}
