/**
 * `ctx.shared` for the isolate lane: integer counters and string values in one SharedArrayBuffer,
 * used at the same time by every worker and the main thread. Web-standard code only.
 *
 * Buffer layout (C = table capacity, a power of two >= 2 * slots, so probes always end):
 *   [0, 64)                 header: Int32 x 16, fields H_* below (magic, sizes, lock, allocator)
 *   [64, 64 + 8C)           counters: BigInt64 x C, one per table entry, changed only by Atomics.add
 *   [.., + 24C)             table: Int32 x 6 per entry: state, hash, keyOff, keyLen, valOff, valLen
 *   [.., + bytes)           arena: key bytes bump up from 0; string values are packed down from the end
 *
 * Why add() needs no lock once a key exists: an entry is published by Atomics.store(state) after
 * its hash and key bytes are written, and after that its key and kind never change (there is no
 * delete), and key bytes never move (compaction only moves values). So lookups are lock-free and
 * each SharedStore caches key -> entry forever; the hot path is one Map.get plus one Atomics.add.
 *
 * Everything else (creating keys, writing, reading or compacting values, stats) holds the single
 * mutex in the header. Values can move when the arena is compacted, which is why get() takes the
 * lock too: a reader can never see a torn or half-moved value.
 */

export interface SharedStoreOptions {
  /** Maximum number of distinct keys (default 1024). */
  slots?: number;
  /** Bytes for UTF-8 keys and string values together (default 256 KiB). */
  bytes?: number;
}

/** shared_busy: the lock could not be taken in LOCK_TIMEOUT_MS (e.g. a worker died holding it). */
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
const VERSION = 1;
const HEADER_BYTES = 64;
// Header fields. H_LOCK is the mutex word; the fields after it change only while it is held.
const H_MAGIC = 0, H_VERSION = 1, H_SLOTS = 2, H_CAP = 3, H_BYTES = 4, H_LOCK = 5;
const H_KEYS = 6, H_KEY_TOP = 7, H_VAL_BOTTOM = 8, H_VAL_LIVE = 9;
// Table entry fields. STATE is the publish flag; hash and key never change once it is set.
const STRIDE = 6;
const S_STATE = 0, S_HASH = 1, S_KEY_OFF = 2, S_KEY_LEN = 3, S_VAL_OFF = 4, S_VAL_LEN = 5;
const EMPTY = 0, COUNTER = 1, STRING = 2;
type Kind = typeof COUNTER | typeof STRING;

const MAX_KEY_BYTES = 256;
const MAX_SLOTS = 1 << 20;
const MAX_BYTES = 1 << 30;
// Lock holds are microseconds; these bound the wait if a holder was killed mid-section.
const SPINS = 64;
const WAIT_SLICE_MS = 2;
const LOCK_TIMEOUT_MS = 2000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const LONE_SURROGATE = /\p{Cs}/u;
let canBlock = true; // Atomics.wait throws on a browser main thread; then we only spin

export class SharedStore {
  readonly buffer: SharedArrayBuffer;
  private readonly header: Int32Array<SharedArrayBuffer>;
  private readonly counters: BigInt64Array<SharedArrayBuffer>;
  private readonly table: Int32Array<SharedArrayBuffer>;
  private readonly arena: Uint8Array<SharedArrayBuffer>;
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
    const buffer = new SharedArrayBuffer(HEADER_BYTES + cap * (8 + STRIDE * 4) + bytes);
    // Plain writes are fine: nobody else can see the buffer until it is posted.
    new Int32Array(buffer, 0, 16).set([MAGIC, VERSION, slots, cap, bytes, 0, 0, 0, bytes, 0]);
    return new SharedStore(buffer);
  }

  constructor(buffer: SharedArrayBuffer) {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < HEADER_BYTES) {
      throw new TypeError("SharedStore: expected a SharedArrayBuffer made by SharedStore.create()");
    }
    const h = new Int32Array(buffer, 0, 16);
    const [magic, version, slots = 0, cap = 0, bytes = 0] = h;
    if (magic !== MAGIC || version !== VERSION || slots < 1 || slots * 2 > cap || (cap & (cap - 1)) !== 0
      || buffer.byteLength !== HEADER_BYTES + cap * (8 + STRIDE * 4) + bytes) {
      throw new TypeError("SharedStore: buffer is not a SharedStore (bad header or size)");
    }
    this.buffer = buffer;
    this.header = h;
    this.slots = slots;
    this.cap = cap;
    this.bytes = bytes;
    this.counters = new BigInt64Array(buffer, HEADER_BYTES, cap);
    this.table = new Int32Array(buffer, HEADER_BYTES + cap * 8, cap * STRIDE);
    this.arena = new Uint8Array(buffer, HEADER_BYTES + cap * (8 + STRIDE * 4), bytes);
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
    const e = ref >> 2;
    this.lock();
    try {
      const off = this.field(e, S_VAL_OFF);
      // slice() copies into a plain ArrayBuffer: TextDecoder refuses shared views in some runtimes.
      return decoder.decode(this.arena.slice(off, off + this.field(e, S_VAL_LEN)));
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
      const ref = cached ?? this.entryFor(key, STRING, vb.length);
      if ((ref & 3) !== STRING) throw mismatch(key, "set");
      this.writeValue(ref >> 2, vb);
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
    const found = this.probe(kb, hash(kb));
    if (found >= 0) return this.remember(key, found);
    this.lock();
    try {
      return this.entryFor(key, COUNTER, 0);
    } finally {
      this.unlock();
    }
  }

  /** Lock held: the entry for `key`, created as `kind` if missing (another thread may have won). */
  private entryFor(key: string, kind: Kind, valueBytes: number): number {
    const kb = keyBytes(key);
    const h = hash(kb);
    const found = this.probe(kb, h);
    return this.remember(key, found >= 0 ? found : this.insert(~found, key, kb, h, kind, valueBytes));
  }

  private remember(key: string, e: number): number {
    const ref = (e << 2) | Atomics.load(this.table, e * STRIDE + S_STATE);
    this.cache.set(key, ref);
    return ref;
  }

  // ---- allocation (lock held) -------------------------------------------------------------

  /** Creates an entry at empty index `e`, reserving room for the key plus `valueBytes`. */
  private insert(e: number, key: string, kb: Uint8Array, h: number, kind: Kind, valueBytes: number): number {
    const keys = this.hget(H_KEYS);
    if (keys >= this.slots) {
      throw new SharedStoreError("shared_full", `ctx.shared is full: ${keys} keys in use (limit ${this.slots}); cannot create ${show(key)}`);
    }
    this.ensureRoom(kb.length + valueBytes, -1);
    const keyOff = this.hget(H_KEY_TOP);
    this.arena.set(kb, keyOff);
    this.hset(H_KEY_TOP, keyOff + kb.length);
    const base = e * STRIDE;
    this.table.set([EMPTY, h, keyOff, kb.length, this.hget(H_VAL_BOTTOM), 0], base);
    Atomics.store(this.counters, e, 0n);
    this.hset(H_KEYS, keys + 1);
    Atomics.store(this.table, base + S_STATE, kind); // publish last: lock-free readers rely on it
    return e;
  }

  private writeValue(e: number, vb: Uint8Array): void {
    if (vb.length > this.field(e, S_VAL_LEN)) {
      this.ensureRoom(vb.length, e);
      this.fset(e, S_VAL_OFF, this.hget(H_VAL_BOTTOM) - vb.length);
      this.hset(H_VAL_BOTTOM, this.hget(H_VAL_BOTTOM) - vb.length);
    }
    // Shorter values are rewritten in place; the leftover tail is reclaimed by the next compaction.
    this.arena.set(vb, this.field(e, S_VAL_OFF));
    this.hset(H_VAL_LIVE, this.hget(H_VAL_LIVE) + vb.length - this.field(e, S_VAL_LEN));
    this.fset(e, S_VAL_LEN, vb.length);
  }

  /**
   * Makes `need` contiguous free bytes between the keys and the values, or throws shared_full
   * having changed nothing. `replacing` is an entry whose value the caller is about to
   * overwrite; its bytes count as free, and it is emptied only once success is certain.
   */
  private ensureRoom(need: number, replacing: number): void {
    if (this.hget(H_VAL_BOTTOM) - this.hget(H_KEY_TOP) >= need) return;
    const dropped = replacing >= 0 ? this.field(replacing, S_VAL_LEN) : 0;
    const live = this.hget(H_KEY_TOP) + this.hget(H_VAL_LIVE) - dropped;
    if (this.bytes - live < need) {
      throw new SharedStoreError("shared_full",
        `ctx.shared is full: no room for ${need} bytes (${live} of ${this.bytes} bytes in use)`);
    }
    if (replacing >= 0) {
      this.fset(replacing, S_VAL_LEN, 0);
      this.hset(H_VAL_LIVE, this.hget(H_VAL_LIVE) - dropped);
    }
    this.compact();
  }

  /** Packs all values against the end of the arena, highest first so no move clobbers another. */
  private compact(): void {
    const live: number[] = [];
    for (let e = 0; e < this.cap; e++) {
      if (Atomics.load(this.table, e * STRIDE + S_STATE) === STRING && this.field(e, S_VAL_LEN) > 0) live.push(e);
    }
    live.sort((a, b) => this.field(b, S_VAL_OFF) - this.field(a, S_VAL_OFF));
    let top = this.bytes;
    for (const e of live) {
      const off = this.field(e, S_VAL_OFF);
      const len = this.field(e, S_VAL_LEN);
      top -= len;
      if (top !== off) this.arena.copyWithin(top, off, off + len);
      this.fset(e, S_VAL_OFF, top);
    }
    this.hset(H_VAL_BOTTOM, top);
  }

  // ---- the mutex: 0 free, 1 held, 2 held with possible waiters (Drepper's futex mutex) ------

  private lock(): void {
    const h = this.header;
    if (Atomics.compareExchange(h, H_LOCK, 0, 1) === 0) return;
    for (let i = 0; i < SPINS; i++) {
      if (Atomics.load(h, H_LOCK) === 0 && Atomics.compareExchange(h, H_LOCK, 0, 1) === 0) return;
    }
    const deadline = Date.now() + LOCK_TIMEOUT_MS;
    while (Atomics.exchange(h, H_LOCK, 2) !== 0) {
      if (Date.now() > deadline) {
        throw new SharedStoreError("shared_busy", `ctx.shared is busy: lock not acquired within ${LOCK_TIMEOUT_MS} ms`);
      }
      if (canBlock) {
        // Short slices, never forever: a holder that was terminated mid-section never notifies.
        try { Atomics.wait(h, H_LOCK, 2, WAIT_SLICE_MS); } catch { canBlock = false; }
      }
    }
  }

  private unlock(): void {
    if (Atomics.exchange(this.header, H_LOCK, 0) === 2) Atomics.notify(this.header, H_LOCK, 1);
  }

  // Plain reads/writes would do under the lock; Atomics keeps them typed `number` and is cheap here.
  private hget(i: number): number { return Atomics.load(this.header, i); }
  private hset(i: number, v: number): void { Atomics.store(this.header, i, v); }
  private field(e: number, f: number): number { return Atomics.load(this.table, e * STRIDE + f); }
  private fset(e: number, f: number, v: number): void { Atomics.store(this.table, e * STRIDE + f, v); }
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

function mismatch(key: string, op: "add" | "set" | "get"): SharedStoreError {
  const holds = op === "add" ? "a string" : "a counter";
  const hint = op === "add" ? "use get/set" : "use add(key, delta), or add(key, 0) to read it";
  return new SharedStoreError("shared_type", `ctx.shared key ${show(key)} holds ${holds}, so ${op}() cannot be used on it; ${hint}`);
}

function show(v: unknown): string {
  if (typeof v !== "string") return typeof v;
  return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) + (v.length > 40 ? ` (${v.length} chars)` : "");
}
