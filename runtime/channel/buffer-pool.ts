/**
 * Reused memory for the large bodies a host relays through the process lane. Each such body
 * took two fresh arrays on the host (the request read into one, the answer assembled from the
 * pipe into another), and V8 runs a full collection after every 64 MB of new ArrayBuffer
 * memory: under `body` load (256 KiB each way) that was a third of the host's thread
 * (../../loadtest/README.md, The hot path). An array goes back to the pool only when nothing can read
 * it any more: its request is over, and every pipe write of it has completed.
 *
 * Only arrays the pool made are taken back (or that are the host's alone: moved to it from a
 * worker, `adopt`; the pool's own moved by a read into it, `moved`), each at most once until it
 * is handed out again, so no two holders ever share one. A caller that takes `n` bytes writes
 * all `n` before reading any: a reused array holds an earlier body.
 */

/** Sizes are rounded up to this; smaller bodies are left to the garbage collector. */
const GRAIN = 64 * 1024;
/** Larger bodies are not kept. */
const MAX_POOLED = 1024 * 1024;
/** At most this much memory waits in the pool. */
const MAX_KEPT = 16 * 1024 * 1024;

export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly made = new WeakSet<ArrayBuffer>();
  private readonly idle = new WeakSet<ArrayBuffer>();
  /** Writes in progress per array, and arrays given back while one still was (weak: a write that never reports must not pin it). */
  private readonly writes = new WeakMap<ArrayBuffer, number>();
  private readonly givenWhileWritten = new WeakSet<ArrayBuffer>();
  private kept = 0;

  /** Whether `bytes` may be one of the pool's (cheap: a size check, for the hot path). */
  mayHold(bytes: Uint8Array | null): boolean {
    return bytes !== null && bytes.byteLength > GRAIN;
  }

  /** `n` bytes, from the pool when it has an array of that size. */
  take(n: number): Uint8Array {
    if (n <= GRAIN || n > MAX_POOLED) return new Uint8Array(n);
    const size = Math.ceil(n / GRAIN) * GRAIN;
    const buffer = this.free.get(size)?.pop();
    if (buffer) {
      this.kept -= size;
      this.idle.delete(buffer);
      return new Uint8Array(buffer, 0, n);
    }
    const made = new ArrayBuffer(size);
    this.made.add(made);
    return new Uint8Array(made, 0, n);
  }

  /** Nothing will read `bytes` any more (once its writes are done): the pool may hand it out again. */
  give(bytes: Uint8Array | null | undefined): void {
    const buffer = bytes?.buffer;
    if (!(buffer instanceof ArrayBuffer) || !this.made.has(buffer)) return;
    if ((this.writes.get(buffer) ?? 0) > 0) this.givenWhileWritten.add(buffer);
    else this.keep(buffer);
  }

  /** The memory of `from` moved to `to` (a read into it transferred it): `to` is the pool's if `from` was. */
  moved(from: ArrayBuffer, to: ArrayBuffer): void {
    if (this.made.has(from)) this.made.add(to);
  }

  /** `buffer` came from another thread, moved (transferred): nothing else holds it, so it may be kept once given back (if of a size the pool keeps). */
  adopt(buffer: ArrayBuffer): void {
    this.made.add(buffer);
  }

  /** A write of `bytes` started: it is not handed out again before `written`. */
  writing(bytes: Uint8Array): void {
    const buffer = bytes.buffer;
    if (buffer instanceof ArrayBuffer && this.made.has(buffer)) this.writes.set(buffer, (this.writes.get(buffer) ?? 0) + 1);
  }

  /** A write that `writing` announced has completed (or failed). */
  written(bytes: Uint8Array): void {
    const buffer = bytes.buffer;
    if (!(buffer instanceof ArrayBuffer) || !this.made.has(buffer)) return;
    const left = (this.writes.get(buffer) ?? 1) - 1;
    if (left > 0) return void this.writes.set(buffer, left);
    this.writes.delete(buffer);
    if (this.givenWhileWritten.delete(buffer)) this.keep(buffer);
  }

  /** Bytes waiting in the pool. */
  get idleBytes(): number {
    return this.kept;
  }

  /** Let go of every waiting array (the host went quiet: the collector may free them). */
  clear(): void {
    this.free.clear();
    this.kept = 0;
  }

  private keep(buffer: ArrayBuffer): void {
    // a buffer transferred to a worker is detached (byteLength 0): it is gone, not kept
    const size = buffer.byteLength;
    if (size <= GRAIN || size % GRAIN !== 0 || this.idle.has(buffer) || this.kept + size > MAX_KEPT) return;
    this.idle.add(buffer);
    this.kept += size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
  }
}

/** The host thread's pool. */
export const hostBuffers = new BufferPool();
