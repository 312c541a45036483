/**
 * glibc through Deno's FFI, for a Deno host: `malloc_trim` and `mallopt` (malloc-trim.ts), `fcntl`
 * (pipe-size.ts), and `shutdown`, `getsockname` and `getpeername` (deno-idle-conns.ts). Opened once. Null where it cannot be: not
 * on Deno, no glibc, or a host run without FFI permission; the callers then leave things as
 * they are.
 */
interface Symbols {
  malloc_trim(pad: number): number;
  mallopt(param: number, value: number): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  shutdown(fd: number, how: number): number;
  getsockname(fd: number, addr: Uint8Array, len: Uint32Array): number;
  getpeername(fd: number, addr: Uint8Array, len: Uint32Array): number;
}
const SYMBOLS = {
  malloc_trim: { parameters: ["usize"], result: "i32" },
  mallopt: { parameters: ["i32", "i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
} as const;

interface DenoFfi {
  dlopen(path: string, symbols: typeof SYMBOLS): { symbols: Symbols };
}

let opened: Symbols | null | undefined;

export function libc(): Symbols | null {
  if (opened === undefined) {
    try {
      const deno = (globalThis as { Deno?: DenoFfi }).Deno;
      opened = deno?.dlopen("libc.so.6", SYMBOLS).symbols ?? null;
    } catch {
      opened = null;
    }
  }
  return opened;
}
