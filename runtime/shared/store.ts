/**
 * `ctx.shared` for the isolate lane: integer counters and string values in one SharedArrayBuffer,
 * used at the same time by every worker and the main thread. Web-standard code only.
 *
 * The buffer layout is in layout.ts; the lock that survives a dead holder in mutex.ts.
 *
 * Why add() needs no lock once a key exists: an entry is published by Atomics.store(state) after
 * its hash and key bytes are written, and after that its key and kind never change (there is no
 * delete), and key bytes never move. So lookups are lock-free and each SharedStore caches
 * key -> entry forever; the hot path is one Map.get plus one Atomics.add.
 *
 * Everything else (creating keys, writing or reading values, compacting, stats) holds the single
 * mutex in the header. Its word names the holder's owner id: the creator (the host) is owner 1,
 * every worker gets its own seat (`seat()`: an id plus a fence word) through workerData.
 *
 * A thread can die anywhere inside a critical section (terminate(), out of memory) and never
 * unlock. So the writes are ordered to be crash-safe, and the host hands the lock back:
 * - A value is never overwritten in place: new bytes go to free space, then ONE 64-bit
 *   Atomics.store of its (length, offset) ref publishes them. Before that store the old value is
 *   intact, after it the new one is complete. (Refs are read as Int32 pairs, only under the
 *   lock, so only the store has to be indivisible.) A new key's value is written before the key
 *   is published, so a key never shows up without its value.
 * - Compaction copies every live value into the OTHER space (which nothing references), writes
 *   that space's refs, then flips H_SPACE with one atomic store. A crash before the flip leaves
 *   the old space untouched; after it, the new one is complete. Nothing is ever moved over bytes
 *   a ref points to, which packing values within one space cannot promise (overlapping moves).
 *   The price is a second space: the arena takes 2 * `bytes`.
 * - The header's allocator fields (key top, value bottom, live bytes, key count) are hints that
 *   `repair()` recomputes from the table and refs whenever a lock is taken over from a dead owner.
 * - `recoverFrom(seat)`, called by the host when an instance is gone, closes the seat's fence (the
 *   owner can never take the lock again) and takes over a lock that owner still holds. Where a
 *   terminated worker may still be running (Deno, denoland/deno#35657) the lock is only marked
 *   abandoned: the holder, if alive, leaves its section in microseconds and cannot re-enter; if it
 *   is still held ZOMBIE_GRACE_MS later, the next thread that wants it takes it over.
 */
import { StoreMemory } from "./memory.ts";
import { OwnedMutex } from "./mutex.ts";
import {
  checkDelta,
  checkValue,
  COUNTER,
  CREATOR,
  decoder,
  EMPTY,
  ENTRY_BYTES,
  H_BYTES,
  H_CAP,
  H_KEY_TOP,
  H_KEYS,
  H_MAGIC,
  H_OWNERS,
  H_SLOTS,
  H_SPACE,
  H_VAL_BOTTOM,
  H_VAL_LIVE,
  H_VERSION,
  hash,
  HEADER_BYTES,
  keyBytes,
  LOCK_TIMEOUT_MS,
  MAGIC,
  MAX_BYTES,
  MAX_SLOTS,
  mismatch,
  OWNER,
  S_HASH,
  S_KEY_LEN,
  S_KEY_OFF,
  S_STATE,
  SharedStoreError,
  show,
  STRIDE,
  STRING,
  VERSION,
  encoder,
  type AttachOptions,
  type Kind,
  type SharedSeat,
  type SharedStoreOptions,
} from "./layout.ts";

export { SharedStoreError, type AttachOptions, type SharedSeat, type SharedStoreErrorCode, type SharedStoreOptions } from "./layout.ts";

export class SharedStore {
  readonly buffer: SharedArrayBuffer;
  private readonly m: StoreMemory;
  private readonly mutex: OwnedMutex;
  /** key -> (entry << 2 | kind). Safe to keep forever: entries are never removed or retyped. */
  private readonly cache = new Map<string, number>();

  static create(opts: SharedStoreOptions = {}): SharedStore {
    const slots = opts.slots ?? 1024;
    const bytes = opts.bytes ?? 256 * 1024;
    if (!Number.isInteger(slots) || slots < 1 || slots > MAX_SLOTS) {
      throw new RangeError(`SharedStore: slots must be an integer in 1..${MAX_SLOTS}, got ${slots}`);
    }
    if (!Number.isInteger(bytes) || bytes < 1 || bytes > MAX_BYTES) {
      throw new RangeError(`SharedStore: bytes must be an integer in 1..${MAX_BYTES}, got ${bytes}`);
    }
    let cap = 8;
    while (cap < slots * 2) cap *= 2;
    const buffer = new SharedArrayBuffer(HEADER_BYTES + cap * ENTRY_BYTES + 2 * bytes);
    // Plain writes are fine: nobody else can see the buffer until it is posted.
    const h = new Int32Array(buffer, 0, 16);
    h[H_MAGIC] = MAGIC;
    h[H_VERSION] = VERSION;
    h[H_SLOTS] = slots;
    h[H_CAP] = cap;
    h[H_BYTES] = bytes;
    h[H_VAL_BOTTOM] = bytes;
    h[H_OWNERS] = CREATOR;
    const creator: AttachOptions = { seat: { owner: CREATOR, fence: new SharedArrayBuffer(4) } };
    if (opts.lockTimeoutMs !== undefined) creator.lockTimeoutMs = opts.lockTimeoutMs;
    return new SharedStore(buffer, creator);
  }

  constructor(buffer: SharedArrayBuffer, opts: AttachOptions = {}) {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < HEADER_BYTES) {
      throw new TypeError("SharedStore: expected a SharedArrayBuffer made by SharedStore.create()");
    }
    const h = new Int32Array(buffer, 0, 16);
    const [magic, version, slots, cap, bytes] = [h[H_MAGIC], h[H_VERSION], h[H_SLOTS] ?? 0, h[H_CAP] ?? 0, h[H_BYTES] ?? 0];
    if (magic !== MAGIC || version !== VERSION || slots < 1 || slots * 2 > cap || (cap & (cap - 1)) !== 0 || buffer.byteLength !== HEADER_BYTES + cap * ENTRY_BYTES + 2 * bytes) {
      throw new TypeError("SharedStore: buffer is not a SharedStore (bad header or size)");
    }
    this.buffer = buffer;
    this.m = new StoreMemory(buffer, h, slots, cap, bytes);
    const seat = opts.seat ?? this.seat();
    this.mutex = new OwnedMutex(h, seat, opts.lockTimeoutMs ?? LOCK_TIMEOUT_MS, () => this.m.repair());
  }

  /** A new identity for another thread (a worker) to attach with; keep it to recoverFrom() it. */
  seat(): SharedSeat {
    const owner = Atomics.add(this.m.header, H_OWNERS, 1) + 1;
    if (owner > OWNER) throw new RangeError(`SharedStore: more than ${OWNER} attachments`);
    return { owner, fence: new SharedArrayBuffer(4) };
  }

  /**
   * `seat`'s thread is gone: it may no longer take the lock, and a lock it still holds is taken
   * over and the store repaired. With `mayStillRun` (a terminated worker on a runtime whose
   * terminate() can leave the thread running) a held lock is only marked abandoned: it is taken
   * over ZOMBIE_GRACE_MS later, by whichever thread next wants it. Returns whether it held the lock.
   */
  recoverFrom(seat: SharedSeat, opts: { mayStillRun?: boolean } = {}): boolean {
    if (seat.owner === this.mutex.owner) throw new RangeError("SharedStore: cannot recover from its own seat");
    return this.mutex.takeOverFrom(seat, opts.mayStillRun ?? false);
  }

  /** Atomically adds `delta` (a safe integer) and returns the new total; add(key, 0) reads it. */
  add(key: string, delta: number): number {
    checkDelta(key, delta);
    const ref = this.cache.get(key) ?? this.resolveCounter(key);
    if ((ref & 3) !== COUNTER) throw mismatch(key, "add");
    const d = BigInt(delta);
    // Totals wrap at +-2^63 and lose precision past +-2^53 when returned as a number.
    return Number(Atomics.add(this.m.counters, ref >> 2, d) + d);
  }

  get(key: string): string | undefined {
    let ref = this.cache.get(key);
    if (ref === undefined) {
      const kb = keyBytes(key);
      const found = this.probe(kb, hash(kb));
      if (found < 0) return undefined;
      ref = this.remember(key, found);
    }
    if ((ref & 3) !== STRING) throw mismatch(key, "get");
    this.mutex.lock();
    try {
      const i = 2 * (this.m.hget(H_SPACE) * this.m.cap + (ref >> 2));
      const off = this.m.refs32[i + 1]!;
      // slice() copies into a plain ArrayBuffer: TextDecoder refuses shared views in some runtimes.
      return decoder.decode(this.m.arena.slice(off, off + this.m.refs32[i]!));
    } finally {
      this.mutex.unlock();
    }
  }

  set(key: string, value: string): void {
    checkValue(key, value);
    const vb = encoder.encode(value);
    const cached = this.cache.get(key);
    if (cached !== undefined && (cached & 3) !== STRING) throw mismatch(key, "set");
    this.mutex.lock();
    try {
      if (cached !== undefined) {
        this.writeValue(cached >> 2, vb);
        return;
      }
      const kb = keyBytes(key);
      const h = hash(kb);
      const found = this.probe(kb, h);
      const ref = this.remember(key, found >= 0 ? found : this.insert(~found, key, kb, h, STRING, vb));
      if ((ref & 3) !== STRING) throw mismatch(key, "set");
      if (found >= 0) this.writeValue(found, vb);
    } finally {
      this.mutex.unlock();
    }
  }

  stats(): { keys: number; bytesUsed: number; bytesTotal: number; slots: number } {
    this.mutex.lock();
    try {
      const used = this.m.hget(H_KEY_TOP) + this.m.hget(H_VAL_LIVE);
      return { keys: this.m.hget(H_KEYS), bytesUsed: used, bytesTotal: this.m.bytes, slots: this.m.slots };
    } finally {
      this.mutex.unlock();
    }
  }

  // ---- lookup (lock-free) ----------------------------------------------------------------

  /** The entry holding `kb`, or ~(the empty entry where it would go). */
  private probe(kb: Uint8Array, h: number): number {
    const mask = this.m.cap - 1;
    for (let e = h & mask; ; e = (e + 1) & mask) {
      const state = Atomics.load(this.m.table, e * STRIDE + S_STATE);
      if (state === EMPTY) return ~e;
      if (this.m.field(e, S_HASH) === h && this.m.field(e, S_KEY_LEN) === kb.length) {
        const off = this.m.field(e, S_KEY_OFF);
        let i = 0;
        while (i < kb.length && this.m.arena[off + i] === kb[i]) i++;
        if (i === kb.length) return e;
      }
    }
  }

  private resolveCounter(key: string): number {
    const kb = keyBytes(key);
    const h = hash(kb);
    const found = this.probe(kb, h);
    if (found >= 0) return this.remember(key, found);
    this.mutex.lock();
    try {
      const again = this.probe(kb, h); // another thread may have created it meanwhile
      return this.remember(key, again >= 0 ? again : this.insert(~again, key, kb, h, COUNTER, undefined));
    } finally {
      this.mutex.unlock();
    }
  }

  private remember(key: string, e: number): number {
    const ref = (e << 2) | Atomics.load(this.m.table, e * STRIDE + S_STATE);
    this.cache.set(key, ref);
    return ref;
  }

  // ---- allocation (lock held; every step below is safe to die after, see the header) -------

  /** Creates an entry at empty index `e`: key bytes, then its value, then the publishing store. */
  private insert(e: number, key: string, kb: Uint8Array, h: number, kind: Kind, vb: Uint8Array | undefined): number {
    const keys = this.m.hget(H_KEYS);
    if (keys >= this.m.slots) {
      throw new SharedStoreError("shared_full", `ctx.shared is full: ${keys} keys in use (limit ${this.m.slots}); cannot create ${show(key)}`);
    }
    const valueBytes = vb?.length ?? 0;
    if (this.m.free() < kb.length + valueBytes) {
      this.m.roomCheck(kb.length + valueBytes, kb.length + valueBytes);
      this.m.compact(-1, undefined);
    }
    const keyOff = this.m.hget(H_KEY_TOP);
    this.m.arena.set(kb, keyOff);
    this.m.hset(H_KEY_TOP, keyOff + kb.length);
    const base = e * STRIDE;
    this.m.table.set([EMPTY, h, keyOff, kb.length], base);
    Atomics.store(this.m.counters, e, 0n);
    if (vb) this.m.append(e, vb, 0);
    this.m.hset(H_KEYS, keys + 1);
    Atomics.store(this.m.table, base + S_STATE, kind); // publish last: lock-free readers rely on it
    return e;
  }

  /** Replaces entry `e`'s value: into free space if there is room, else as part of a compaction. */
  private writeValue(e: number, vb: Uint8Array): void {
    const oldLen = this.m.refLen(this.m.hget(H_SPACE), e);
    if (this.m.free() >= vb.length) {
      this.m.append(e, vb, oldLen);
    } else {
      this.m.roomCheck(vb.length, vb.length - oldLen);
      this.m.compact(e, vb);
    }
  }
}
