/**
 * A full garbage collection of this thread's heap, now: the host's when it goes quiet
 * (runtime/host/idle-memory.ts), a guest's before the memory watchdog judges it
 * (runtime/pool/watchdog.ts).
 *
 * Bun: `Bun.gc(true)` (in a worker, that worker's heap). Node and Deno: V8's gc(), which only
 * --expose-gc makes visible; the flag is set just long enough to take gc() from a fresh context,
 * so no function's context or worker started later sees it (README.md in this folder, Memory).
 */
import v8 from "node:v8";
import vm from "node:vm";

let gc: (() => void) | undefined;

export function collectGarbage(): void {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun) return bun.gc(true);
  if (!gc) {
    v8.setFlagsFromString("--expose-gc");
    gc = vm.runInNewContext("gc") as () => void;
    v8.setFlagsFromString("--no-expose-gc");
  }
  gc();
}
