/**
 * glibc through Deno's FFI, for a Deno host: `malloc_trim` (malloc-trim.ts) and `fcntl`
 * (pipe-size.ts). Opened once. Null where it cannot be: not on Deno, no glibc, or a host run
 * without FFI permission; the callers then leave things as they are.
 */
interface Symbols {
  malloc_trim(pad: number): number;
  fcntl(fd: number, cmd: number, arg: number): number;
}

interface DenoFfi {
  dlopen(path: string, symbols: { malloc_trim: { parameters: ["usize"]; result: "i32" }; fcntl: { parameters: ["i32", "i32", "i32"]; result: "i32" } }): { symbols: Symbols };
}

let opened: Symbols | null | undefined;

export function libc(): Symbols | null {
  if (opened === undefined) {
    try {
      const deno = (globalThis as { Deno?: DenoFfi }).Deno;
      opened = deno?.dlopen("libc.so.6", { malloc_trim: { parameters: ["usize"], result: "i32" }, fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" } }).symbols ?? null;
    } catch {
      opened = null;
    }
  }
  return opened;
}
