/**
 * Memory an isolate-lane worker holds that its runtime leaves out of `process.memoryUsage()`, the
 * figure the memory watchdog judges a worker by (runtime/pool/watchdog.ts). Measured in a worker
 * (README.md in this folder, Memory): Node counts neither a SharedArrayBuffer, nor a shared
 * `WebAssembly.Memory`, nor what a resizable ArrayBuffer grew by after it was made, nor a Blob's
 * bytes; Deno counts no SharedArrayBuffer, no `WebAssembly.Memory` and no Blob. A worker held 256
 * MB of any of them with `memoryMb` 64, in the host's memory. Bun counts all of them.
 *
 * So, before the function's module loads, the guest notes each one as it is made (a
 * SharedArrayBuffer or Blob through its constructor, a memory through `WebAssembly.Memory` or
 * as an instance's export, a Node resizable buffer at its first `resize`), through a WeakRef
 * that keeps none of them alive, and adds their sizes, less what the runtime counts, to its
 * reading. What it cannot see stays out: a module's own memory it does not export, a Blob made
 * by `response.blob()` or `slice()`.
 */
const onBun = "Bun" in globalThis;
const onDeno = "Deno" in globalThis;
const onNode = !onBun && !onDeno;

type Kind = "buffer" | "memory" | "blob";
interface Entry {
  ref: WeakRef<object>;
  kind: Kind;
  /** Bytes of it the runtime already counts (a Node resizable buffer's size when it was made), or the Blob's bytes. */
  bytes: number;
}
const live = new Set<Entry>();
const noted = new WeakSet<object>();
const gone = new FinalizationRegistry<Entry>((e) => live.delete(e));

function note(o: object, kind: Kind, bytes: number): void {
  if (noted.has(o)) return;
  noted.add(o);
  const e: Entry = { ref: new WeakRef(o), kind, bytes };
  live.add(e);
  gone.register(o, e);
}

/** Bytes the noted objects still alive hold beyond what the runtime counts. */
export function uncountedBytes(): number {
  let sum = 0;
  for (const e of live) {
    const o = e.ref.deref();
    if (!o) continue;
    if (e.kind === "blob") sum += e.bytes;
    else if (e.kind === "memory") sum += (o as WebAssembly.Memory).buffer.byteLength;
    else sum += Math.max(0, (o as ArrayBuffer).byteLength - e.bytes);
  }
  return sum;
}

/** A constructor that notes what it makes; `instanceof` and `.constructor` see it as the original. */
function noting<T extends abstract new (...args: never[]) => object>(original: T, made: (o: InstanceType<T>, args: unknown[]) => void): T {
  const wrapped: T = new Proxy(original, {
    construct(target, args, newTarget) {
      const o = Reflect.construct(target, args, newTarget === wrapped ? target : newTarget) as InstanceType<T>;
      made(o, args);
      return o;
    },
  });
  Object.defineProperty(original.prototype, "constructor", { value: wrapped, writable: true, configurable: true, enumerable: false });
  return wrapped;
}

/** The bytes of a Blob's parts that are not Blobs themselves (those it shares, not copies). */
function partBytes(parts: unknown): number {
  let n = 0;
  if (!Array.isArray(parts)) return n;
  for (const p of parts) {
    if (typeof p === "string") n += p.length;
    else if (ArrayBuffer.isView(p) || p instanceof ArrayBuffer) n += p.byteLength;
  }
  return n;
}

/** In a worker, before the function's module loads; nothing on Bun, which counts them all. */
export function noteUncountedMemory(): void {
  if (onBun) return;
  const g = globalThis as Record<string, unknown>;
  g.SharedArrayBuffer = noting(SharedArrayBuffer, (b) => note(b, "buffer", 0));
  g.Blob = noting(Blob, (b, args) => note(b, "blob", partBytes(args[0])));
  const W = WebAssembly as unknown as Record<string, unknown>;
  // Node counts a memory that is not shared in full
  const memory = (m: WebAssembly.Memory) => {
    if (onDeno || Object.prototype.toString.call(m.buffer) === "[object SharedArrayBuffer]") note(m, "memory", 0);
  };
  const exported = (i: WebAssembly.Instance) => {
    for (const v of Object.values(i.exports)) if (v instanceof WebAssembly.Memory) memory(v);
  };
  W.Memory = noting(WebAssembly.Memory, memory);
  W.Instance = noting(WebAssembly.Instance, exported);
  for (const name of ["instantiate", "instantiateStreaming"] as const) {
    const original = WebAssembly[name] as (...args: unknown[]) => Promise<WebAssembly.Instance | WebAssembly.WebAssemblyInstantiatedSource>;
    if (typeof original !== "function") continue;
    W[name] = async (...args: unknown[]) => {
      const got = await original.apply(WebAssembly, args);
      exported("instance" in got ? got.instance : got);
      return got;
    };
  }
  if (onNode) {
    // Node counts a resizable buffer at the size it was made with, however far it grows
    const resize = ArrayBuffer.prototype.resize;
    Object.defineProperty(ArrayBuffer.prototype, "resize", {
      value(this: ArrayBuffer, length: number) {
        note(this, "buffer", this.byteLength);
        return resize.call(this, length);
      },
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
}
