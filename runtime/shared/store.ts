/**
 * `ctx.shared` for the isolate lane: integer counters and string values in one SharedArrayBuffer,
 * used at the same time by every worker and the main thread. Web-standard code only.
 *
 * Buffer layout (C = table capacity, a power of two >= 2 * slots, so probes always end):
 *   [0, 64)                 header: Int32 x 16, fields H_* below (magic, sizes, lock, allocator)
 *   [64, 64 + 8C)           counters: BigInt64 x C, one per table entry, changed only by Atomics.add
 *   [.., + 16C)             value refs: 64 bits x 2C, (length, offset) as Int32 x 2 per entry per space
 *   [.., + 16C)             table: Int32 x 4 per entry: state, hash, keyOff, keyLen
 *   [.., + 2 * bytes)       arena: two spaces of `bytes`. Keys bump up from 0 in space 0 and never
 *                           move; string values are packed down from the end of the current space.
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

export interface SharedStoreOptions {
  /** Maximum number of distinct keys (default 1024). */
  slots?: number;
  /** Bytes for UTF-8 keys and string values together (default 256 KiB; the buffer holds twice this). */
  bytes?: number;
  /** How long the creator's lock() may wait before shared_busy (default LOCK_TIMEOUT_MS). */
  lockTimeoutMs?: number;
}

/** A worker's identity at a store: made by the creator with seat(), passed in workerData. */
export interface SharedSeat {
  owner: number;
  /** Int32 x 1, set by recoverFrom(): the owner may no longer take the lock. */
  fence: SharedArrayBuffer;
}

export interface AttachOptions {
  /** This thread's seat, from the creator's seat(); without it the attachment gets a fresh owner id. */
  seat?: SharedSeat;
  /** How long lock() may wait before shared_busy (default LOCK_TIMEOUT_MS). */
  lockTimeoutMs?: number;
}

/** shared_busy: the lock could not be taken in time, or the host closed this instance's seat. */
export type SharedStoreErrorCode = "shared_full" | "shared_type" | "shared_key" | "shared_busy";

export class SharedStoreError extends Error {
  override readonly name = "SharedStoreError";
  readonly code: SharedStoreErrorCode;
  constructor(code: SharedStoreErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

const MAGIC = 0x4c4e5353; // "LNSS"
const VERSION = 2;
const HEADER_BYTES = 64;
// Header fields. H_LOCK is the mutex word; KEYS..VAL_LIVE change only while it is held and are
// recomputable hints; H_SPACE is the space the refs in use point into (flipped by compaction).
const H_MAGIC = 0, H_VERSION = 1, H_SLOTS = 2, H_CAP = 3, H_BYTES = 4, H_LOCK = 5;
const H_KEYS = 6, H_KEY_TOP = 7, H_VAL_BOTTOM = 8, H_VAL_LIVE = 9, H_SPACE = 10;
// H_OWNERS: the last owner id handed out. H_ABANDONED: an owner reported gone while holding the
// lock; H_ABANDONED_AT: when (Date.now() | 0) its lock may be taken over.
const H_OWNERS = 11, H_ABANDONED = 12, H_ABANDONED_AT = 13;
// Table entry fields. STATE is the publish flag; hash and key never change once it is set.
const STRIDE = 4;
const S_STATE = 0, S_HASH = 1, S_KEY_OFF = 2, S_KEY_LEN = 3;
const EMPTY = 0, COUNTER = 1, STRING = 2;
type Kind = typeof COUNTER | typeof STRING;
const ENTRY_BYTES = 8 + 16 + STRIDE * 4;

const MAX_KEY_BYTES = 256;
const MAX_SLOTS = 1 << 20;
const MAX_BYTES = 1 << 30;
// Lock word: 0 free, else the holder's owner id, plus WAITERS when someone may sleep on it.
const WAITERS = 1 << 30;
const OWNER = WAITERS - 1;
const CREATOR = 1;
// Lock holds are microseconds; a holder that died never unlocks, and waiting for the host to
// report it gone is bounded by the caller's lockTimeoutMs (shared_busy after that).
const SPINS = 64;
const WAIT_SLICE_MS = 2;
const LOCK_TIMEOUT_MS = 2000;
/** How long a terminated worker that may still run gets to leave its critical section. */
const ZOMBIE_GRACE_MS = 100;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const LONE_SURROGATE = /\p{Cs}/u;
// Builds a ref's 64 bits from its two Int32 halves in the platform's byte order, as refs32 reads them.
const refScratch = new BigInt64Array(1);
const refScratch32 = new Int32Array(refScratch.buffer);
let canBlock = true; // Atomics.wait throws on a browser main thread; then we only spin

export class SharedStore {
  readonly buffer: SharedArrayBuffer;
  /** This attachment's id in the lock word. */
  readonly owner: number;
  private readonly header: Int32Array<SharedArrayBuffer>;
  private readonly counters: BigInt64Array<SharedArrayBuffer>;
  private readonly refs: BigInt64Array<SharedArrayBuffer>;
  /** The same refs as Int32 pairs: [2i] length, [2i + 1] offset (read under the lock). */
  private readonly refs32: Int32Array<SharedArrayBuffer>;
  private readonly table: Int32Array<SharedArrayBuffer>;
  private readonly arena: Uint8Array<SharedArrayBuffer>;
  private readonly fence: Int32Array<SharedArrayBuffer>;
  private readonly lockTimeoutMs: number;
  private readonly slots: number;
  private readonly cap: number;
  private readonly bytes: number;
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
    if (magic !== MAGIC || version !== VERSION || slots < 1 || slots * 2 > cap || (cap & (cap - 1)) !== 0
      || buffer.byteLength !== HEADER_BYTES + cap * ENTRY_BYTES + 2 * bytes) {
      throw new TypeError("SharedStore: buffer is not a SharedStore (bad header or size)");
    }
    this.buffer = buffer;
    this.header = h;
    this.slots = slots;
    this.cap = cap;
    this.bytes = bytes;
    this.counters = new BigInt64Array(buffer, HEADER_BYTES, cap);
    this.refs = new BigInt64Array(buffer, HEADER_BYTES + cap * 8, 2 * cap);
    this.refs32 = new Int32Array(buffer, HEADER_BYTES + cap * 8, 4 * cap);
    this.table = new Int32Array(buffer, HEADER_BYTES + cap * 24, cap * STRIDE);
    this.arena = new Uint8Array(buffer, HEADER_BYTES + cap * ENTRY_BYTES, 2 * bytes);
    const seat = opts.seat ?? this.seat();
    this.owner = seat.owner;
    this.fence = new Int32Array(seat.fence, 0, 1);
    this.lockTimeoutMs = opts.lockTimeoutMs ?? LOCK_TIMEOUT_MS;
  }

  /** A new identity for another thread (a worker) to attach with; keep it to recoverFrom() it. */
  seat(): SharedSeat {
    const owner = Atomics.add(this.header, H_OWNERS, 1) + 1;
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
    if (seat.owner === this.owner) throw new RangeError("SharedStore: cannot recover from its own seat");
    Atomics.store(new Int32Array(seat.fence, 0, 1), 0, 1);
    const h = this.header;
    let held = false;
    for (;;) {
      const v = Atomics.load(h, H_LOCK);
      if ((v & OWNER) !== seat.owner) return held;
      held = true;
      if (opts.mayStillRun) {
        // time first: a thread that sees the new owner id must also see its deadline
        Atomics.store(h, H_ABANDONED_AT, (Date.now() + ZOMBIE_GRACE_MS) | 0);
        Atomics.store(h, H_ABANDONED, seat.owner);
        return true;
      }
      if (Atomics.compareExchange(h, H_LOCK, v, this.owner | WAITERS) === v) {
        this.repair();
        this.unlock();
        return true;
      }
    }
  }

  /** Atomically adds `delta` (a safe integer) and returns the new total; add(key, 0) reads it. */
  add(key: string, delta: number): number {
    if (!Number.isSafeInteger(delta)) {
      throw new SharedStoreError("shared_type", `ctx.shared.add(${show(key)}, ${String(delta)}): delta must be a safe integer`);
    }
    const ref = this.cache.get(key) ?? this.resolveCounter(key);
    if ((ref & 3) !== COUNTER) throw mismatch(key, "add");
    const d = BigInt(delta);
    // Totals wrap at +-2^63 and lose precision past +-2^53 when returned as a number.
    return Number(Atomics.add(this.counters, ref >> 2, d) + d);
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
    this.lock();
    try {
      const i = 2 * (this.hget(H_SPACE) * this.cap + (ref >> 2));
      const off = this.refs32[i + 1]!;
      // slice() copies into a plain ArrayBuffer: TextDecoder refuses shared views in some runtimes.
      return decoder.decode(this.arena.slice(off, off + this.refs32[i]!));
    } finally {
      this.unlock();
    }
  }

  set(key: string, value: string): void {
    if (typeof value !== "string") {
      throw new SharedStoreError("shared_type", `ctx.shared.set(${show(key)}, …): value must be a string, got ${typeof value}`);
    }
    const vb = encoder.encode(value);
    const cached = this.cache.get(key);
    if (cached !== undefined && (cached & 3) !== STRING) throw mismatch(key, "set");
    this.lock();
    try {
      if (cached !== undefined) return this.writeValue(cached >> 2, vb);
      const kb = keyBytes(key);
      const h = hash(kb);
      const found = this.probe(kb, h);
      const ref = this.remember(key, found >= 0 ? found : this.insert(~found, key, kb, h, STRING, vb));
      if ((ref & 3) !== STRING) throw mismatch(key, "set");
      if (found >= 0) this.writeValue(found, vb);
    } finally {
      this.unlock();
    }
  }

  stats(): { keys: number; bytesUsed: number; bytesTotal: number; slots: number } {
    this.lock();
    try {
      const used = this.hget(H_KEY_TOP) + this.hget(H_VAL_LIVE);
      return { keys: this.hget(H_KEYS), bytesUsed: used, bytesTotal: this.bytes, slots: this.slots };
    } finally {
      this.unlock();
    }
  }

  // ---- lookup (lock-free) ----------------------------------------------------------------

  /** The entry holding `kb`, or ~(the empty entry where it would go). */
  private probe(kb: Uint8Array, h: number): number {
    const mask = this.cap - 1;
    for (let e = h & mask; ; e = (e + 1) & mask) {
      const state = Atomics.load(this.table, e * STRIDE + S_STATE);
      if (state === EMPTY) return ~e;
      if (this.field(e, S_HASH) === h && this.field(e, S_KEY_LEN) === kb.length) {
        const off = this.field(e, S_KEY_OFF);
        let i = 0;
        while (i < kb.length && this.arena[off + i] === kb[i]) i++;
        if (i === kb.length) return e;
      }
    }
  }

  private resolveCounter(key: string): number {
    const kb = keyBytes(key);
    const h = hash(kb);
    const found = this.probe(kb, h);
    if (found >= 0) return this.remember(key, found);
    this.lock();
    try {
      const again = this.probe(kb, h); // another thread may have created it meanwhile
      return this.remember(key, again >= 0 ? again : this.insert(~again, key, kb, h, COUNTER, undefined));
    } finally {
      this.unlock();
    }
  }

  private remember(key: string, e: number): number {
    const ref = (e << 2) | Atomics.load(this.table, e * STRIDE + S_STATE);
    this.cache.set(key, ref);
    return ref;
  }

  // ---- allocation (lock held; every step below is safe to die after, see the header) -------

  /** Creates an entry at empty index `e`: key bytes, then its value, then the publishing store. */
  private insert(e: number, key: string, kb: Uint8Array, h: number, kind: Kind, vb: Uint8Array | undefined): number {
    const keys = this.hget(H_KEYS);
    if (keys >= this.slots) {
      throw new SharedStoreError("shared_full", `ctx.shared is full: ${keys} keys in use (limit ${this.slots}); cannot create ${show(key)}`);
    }
    const valueBytes = vb?.length ?? 0;
    if (this.free() < kb.length + valueBytes) {
      this.roomCheck(kb.length + valueBytes, kb.length + valueBytes);
      this.compact(-1, undefined);
    }
    const keyOff = this.hget(H_KEY_TOP);
    this.arena.set(kb, keyOff);
    this.hset(H_KEY_TOP, keyOff + kb.length);
    const base = e * STRIDE;
    this.table.set([EMPTY, h, keyOff, kb.length], base);
    Atomics.store(this.counters, e, 0n);
    if (vb) this.append(e, vb, 0);
    this.hset(H_KEYS, keys + 1);
    Atomics.store(this.table, base + S_STATE, kind); // publish last: lock-free readers rely on it
    return e;
  }

  /** Replaces entry `e`'s value: into free space if there is room, else as part of a compaction. */
  private writeValue(e: number, vb: Uint8Array): void {
    const oldLen = this.refLen(this.hget(H_SPACE), e);
    if (this.free() >= vb.length) {
      this.append(e, vb, oldLen);
    } else {
      this.roomCheck(vb.length, vb.length - oldLen);
      this.compact(e, vb);
    }
  }

  /** Writes `vb` below the values of the current space, then publishes it as `e`'s value. */
  private append(e: number, vb: Uint8Array, oldLen: number): void {
    const space = this.hget(H_SPACE);
    const bottom = this.hget(H_VAL_BOTTOM) - vb.length;
    const off = space * this.bytes + bottom;
    this.arena.set(vb, off);
    this.hset(H_VAL_BOTTOM, bottom);
    this.setRef(space, e, off, vb.length); // the commit point
    this.hset(H_VAL_LIVE, this.hget(H_VAL_LIVE) + vb.length - oldLen);
  }

  /** Bytes between the keys and the values of the current space. */
  private free(): number {
    return this.hget(H_VAL_BOTTOM) - this.hget(H_KEY_TOP);
  }

  /** Throws shared_full, having changed nothing, unless `growth` more live bytes fit. */
  private roomCheck(need: number, growth: number): void {
    const live = this.hget(H_KEY_TOP) + this.hget(H_VAL_LIVE);
    if (live + growth > this.bytes) {
      throw new SharedStoreError("shared_full",
        `ctx.shared is full: no room for ${need} bytes (${live} of ${this.bytes} bytes in use)`);
    }
  }

  /**
   * Copies every live value, packed, into the other space (`replacing` gets `vb` instead of its
   * old value), then flips to it with one atomic store. Nothing references the other space, so
   * a crash at any point leaves every value readable, old or new.
   */
  private compact(replacing: number, vb: Uint8Array | undefined): void {
    const from = this.hget(H_SPACE);
    const to = 1 - from;
    const base = to * this.bytes;
    let top = this.bytes;
    for (let e = 0; e < this.cap; e++) {
      if (e !== replacing && Atomics.load(this.table, e * STRIDE + S_STATE) !== STRING) continue;
      let len: number;
      if (e === replacing && vb) {
        len = vb.length;
        top -= len;
        this.arena.set(vb, base + top);
      } else {
        const off = this.refOff(from, e);
        len = this.refLen(from, e);
        top -= len;
        this.arena.copyWithin(base + top, off, off + len);
      }
      this.setRef(to, e, base + top, len);
    }
    Atomics.store(this.header, H_SPACE, to); // the commit point
    this.hset(H_VAL_BOTTOM, top);
    this.hset(H_VAL_LIVE, this.bytes - top);
  }

  /** Lock taken over from a dead owner: recompute the allocator hints from the published entries. */
  private repair(): void {
    const space = this.hget(H_SPACE);
    const base = space * this.bytes;
    let keys = 0, keyTop = 0, bottom = this.bytes, live = 0;
    for (let e = 0; e < this.cap; e++) {
      const state = Atomics.load(this.table, e * STRIDE + S_STATE);
      if (state === EMPTY) continue;
      keys++;
      keyTop = Math.max(keyTop, this.field(e, S_KEY_OFF) + this.field(e, S_KEY_LEN));
      if (state !== STRING) continue;
      const len = this.refLen(space, e);
      if (len === 0) continue;
      live += len;
      bottom = Math.min(bottom, this.refOff(space, e) - base);
    }
    this.hset(H_KEYS, keys);
    this.hset(H_KEY_TOP, keyTop);
    this.hset(H_VAL_BOTTOM, bottom);
    this.hset(H_VAL_LIVE, live);
  }

  // ---- the mutex: Drepper's futex mutex, with the holder's owner id as the "held" value ------

  private lock(): void {
    // A closed seat never touches the lock word again (a thread that outlived terminate() may
    // still be stopped later, anywhere). Checked again once the lock is ours, for a seat closed
    // while we raced for it: recoverFrom stores the fence, then reads the lock word, so one of
    // the two sees the other.
    if (Atomics.load(this.fence, 0) !== 0) throw closed();
    if (Atomics.compareExchange(this.header, H_LOCK, 0, this.owner) !== 0) this.lockSlow();
    if (Atomics.load(this.fence, 0) !== 0) {
      this.unlock();
      throw closed();
    }
  }

  private lockSlow(): void {
    const h = this.header;
    const me = this.owner;
    for (let i = 0; i < SPINS; i++) {
      if (Atomics.load(h, H_LOCK) === 0 && Atomics.compareExchange(h, H_LOCK, 0, me) === 0) return;
    }
    const deadline = Date.now() + this.lockTimeoutMs;
    for (;;) {
      let v = Atomics.load(h, H_LOCK);
      if (v === 0) {
        // we were (or may be) one of several waiters: keep the flag so unlock wakes the next
        if (Atomics.compareExchange(h, H_LOCK, 0, me | WAITERS) === 0) return;
        continue;
      }
      if (this.abandoned(v)) {
        if (Atomics.compareExchange(h, H_LOCK, v, me | WAITERS) === v) {
          this.repair();
          return;
        }
        continue;
      }
      if ((v & WAITERS) === 0) {
        if (Atomics.compareExchange(h, H_LOCK, v, v | WAITERS) !== v) continue;
        v |= WAITERS;
      }
      if (Date.now() > deadline) {
        throw new SharedStoreError("shared_busy", `ctx.shared is busy: lock not acquired within ${this.lockTimeoutMs} ms`);
      }
      if (canBlock) {
        // Short slices, never forever: a holder that died never notifies.
        try { Atomics.wait(h, H_LOCK, v, WAIT_SLICE_MS); } catch { canBlock = false; }
      }
    }
  }

  /** Lock word `v` belongs to an owner reported gone whose grace has run out. */
  private abandoned(v: number): boolean {
    const gone = Atomics.load(this.header, H_ABANDONED);
    return gone !== 0 && (v & OWNER) === gone && (((Date.now() | 0) - Atomics.load(this.header, H_ABANDONED_AT)) | 0) >= 0;
  }

  private unlock(): void {
    const h = this.header;
    const me = this.owner;
    if (Atomics.compareExchange(h, H_LOCK, me, 0) === me) return;
    if (Atomics.compareExchange(h, H_LOCK, me | WAITERS, 0) === (me | WAITERS)) Atomics.notify(h, H_LOCK, 1);
    // otherwise it was taken over from us (we were reported gone): it is not ours to release
  }

  // Plain reads/writes would do under the lock; Atomics keeps them typed `number` and is cheap here.
  private hget(i: number): number { return Atomics.load(this.header, i); }
  private hset(i: number, v: number): void { Atomics.store(this.header, i, v); }
  private field(e: number, f: number): number { return Atomics.load(this.table, e * STRIDE + f); }
  private refLen(space: number, e: number): number { return this.refs32[2 * (space * this.cap + e)]!; }
  private refOff(space: number, e: number): number { return this.refs32[2 * (space * this.cap + e) + 1]!; }
  /** Publishes (off, len) as `e`'s value in `space` with one 64-bit store: a death cannot split it. */
  private setRef(space: number, e: number, off: number, len: number): void {
    refScratch32[0] = len;
    refScratch32[1] = off;
    Atomics.store(this.refs, space * this.cap + e, refScratch[0]!);
  }
}

function keyBytes(key: unknown): Uint8Array {
  // A UTF-16 length over the limit is over it in UTF-8 too, so huge keys are never encoded.
  if (typeof key === "string" && key.length > 0 && key.length <= MAX_KEY_BYTES && !LONE_SURROGATE.test(key)) {
    const kb = encoder.encode(key);
    if (kb.length <= MAX_KEY_BYTES) return kb;
  }
  throw new SharedStoreError("shared_key",
    `ctx.shared key must be a non-empty string of at most ${MAX_KEY_BYTES} UTF-8 bytes, got ${show(key)}`);
}

/** FNV-1a, 32 bits. */
function hash(kb: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of kb) h = Math.imul(h ^ b, 0x01000193);
  return h | 0;
}

function closed(): SharedStoreError {
  return new SharedStoreError("shared_busy", "ctx.shared is closed to this instance: the host stopped it");
}

function mismatch(key: string, op: "add" | "set" | "get"): SharedStoreError {
  const holds = op === "add" ? "a string" : "a counter";
  const hint = op === "add" ? "use get/set" : "use add(key, delta), or add(key, 0) to read it";
  return new SharedStoreError("shared_type", `ctx.shared key ${show(key)} holds ${holds}, so ${op}() cannot be used on it; ${hint}`);
}

function show(v: unknown): string {
  if (typeof v !== "string") return typeof v;
  return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) + (v.length > 40 ? ` (${v.length} chars)` : "");
}
