/**
 * Typed views over a shared store's buffer (layout in layout.ts), the accessors every part of
 * the store uses, and the value space: appending a value and compacting into the other space. Reads and writes go through Atomics: plain ones would do under the
 * lock, but Atomics keeps them typed and costs little here.
 */
import {
  EMPTY,
  ENTRY_BYTES,
  H_KEY_TOP,
  H_KEYS,
  H_SPACE,
  H_VAL_BOTTOM,
  H_VAL_LIVE,
  HEADER_BYTES,
  refScratch,
  refScratch32,
  S_KEY_LEN,
  S_KEY_OFF,
  S_STATE,
  SharedStoreError,
  STRIDE,
  STRING,
} from "./layout.ts";

export class StoreMemory {
  readonly counters: BigInt64Array<SharedArrayBuffer>;
  /** Value refs, 64 bits each: (length, offset) as Int32 x 2, per entry per space. */
  readonly refs: BigInt64Array<SharedArrayBuffer>;
  readonly refs32: Int32Array<SharedArrayBuffer>;
  readonly table: Int32Array<SharedArrayBuffer>;
  readonly arena: Uint8Array<SharedArrayBuffer>;

  constructor(
    buffer: SharedArrayBuffer,
    readonly header: Int32Array<SharedArrayBuffer>,
    readonly slots: number,
    readonly cap: number,
    readonly bytes: number,
  ) {
    this.counters = new BigInt64Array(buffer, HEADER_BYTES, cap);
    this.refs = new BigInt64Array(buffer, HEADER_BYTES + cap * 8, 2 * cap);
    this.refs32 = new Int32Array(buffer, HEADER_BYTES + cap * 8, 4 * cap);
    this.table = new Int32Array(buffer, HEADER_BYTES + cap * 24, cap * STRIDE);
    this.arena = new Uint8Array(buffer, HEADER_BYTES + cap * ENTRY_BYTES, 2 * bytes);
  }

  /** Lock taken over from a dead owner: recompute the allocator hints from the published entries. */
  repair(): void {
    const space = this.hget(H_SPACE);
    const base = space * this.bytes;
    let keys = 0,
      keyTop = 0,
      bottom = this.bytes,
      live = 0;
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
  // Plain reads/writes would do under the lock; Atomics keeps them typed `number` and is cheap here.
  hget(i: number): number {
    return Atomics.load(this.header, i);
  }
  hset(i: number, v: number): void {
    Atomics.store(this.header, i, v);
  }
  field(e: number, f: number): number {
    return Atomics.load(this.table, e * STRIDE + f);
  }
  refLen(space: number, e: number): number {
    return this.refs32[2 * (space * this.cap + e)]!;
  }
  refOff(space: number, e: number): number {
    return this.refs32[2 * (space * this.cap + e) + 1]!;
  }
  /** Publishes (off, len) as `e`'s value in `space` with one 64-bit store: a death cannot split it. */
  setRef(space: number, e: number, off: number, len: number): void {
    refScratch32[0] = len;
    refScratch32[1] = off;
    Atomics.store(this.refs, space * this.cap + e, refScratch[0]!);
  }

  /** Writes `vb` below the values of the current space, then publishes it as `e`'s value. */
  append(e: number, vb: Uint8Array, oldLen: number): void {
    const space = this.hget(H_SPACE);
    const bottom = this.hget(H_VAL_BOTTOM) - vb.length;
    const off = space * this.bytes + bottom;
    this.arena.set(vb, off);
    this.hset(H_VAL_BOTTOM, bottom);
    this.setRef(space, e, off, vb.length); // the commit point
    this.hset(H_VAL_LIVE, this.hget(H_VAL_LIVE) + vb.length - oldLen);
  }

  /** Bytes between the keys and the values of the current space. */
  free(): number {
    return this.hget(H_VAL_BOTTOM) - this.hget(H_KEY_TOP);
  }

  /** Throws shared_full, having changed nothing, unless `growth` more live bytes fit. */
  roomCheck(need: number, growth: number): void {
    const live = this.hget(H_KEY_TOP) + this.hget(H_VAL_LIVE);
    if (live + growth > this.bytes) {
      throw new SharedStoreError("shared_full", `ctx.shared is full: no room for ${need} bytes (${live} of ${this.bytes} bytes in use)`);
    }
  }

  /**
   * Copies every live value, packed, into the other space (`replacing` gets `vb` instead of its
   * old value), then flips to it with one atomic store. Nothing references the other space, so
   * a crash at any point leaves every value readable, old or new.
   */
  compact(replacing: number, vb: Uint8Array | undefined): void {
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
}
