/**
 * Values keyed by non-negative integer ids, for the tables that take one entry per request and
 * drop it when the request ends (requests in flight, their cancel hooks, pending work).
 *
 * Why not a Map: V8's Map gives up its hash table for a new one as entries come and go, and the
 * old table keeps its entries and a link to the new one (for iterators still walking it); once
 * the table is in the old generation, so is each new one (`Rehash` in V8's
 * src/objects/ordered-hash-table.cc). Such a table is dead there but still seen by every
 * scavenge, so the requests its entries name survive, are promoted, and hold what came after
 * them: a chain that only a full collection breaks. A Deno host relaying `hello` through the isolate lane
 * kept about 2.3 MB alive through every scavenge that way and promoted it; with this table,
 * 0.1 MB and nothing (../loadtest/README.md, The hot path). This table keeps its arrays until it
 * grows, and empties the old ones when it does.
 *
 * Open addressing with linear probing, at most half full; a deletion shifts the entries after
 * it back, so no tombstones build up. Values must not be undefined.
 */
export class IdTable<T> {
  private keyAt: Float64Array;
  private valueAt: (T | undefined)[];
  private mask: number;
  /** 32 minus log2 of the size: a key's slot is the top bits of its hash. */
  private shift: number;
  private count = 0;

  constructor(capacity = 16) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.keyAt = new Float64Array(size);
    this.valueAt = new Array<T | undefined>(size).fill(undefined);
    this.mask = size - 1;
    this.shift = 32 - Math.log2(size);
  }

  get size(): number {
    return this.count;
  }

  get(key: number): T | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : this.valueAt[i];
  }

  has(key: number): boolean {
    return this.find(key) >= 0;
  }

  set(key: number, value: T): void {
    if (!Number.isSafeInteger(key) || key < 0) throw new RangeError(`IdTable: a key must be a non-negative safe integer (got ${key})`);
    let i = this.home(key);
    for (;;) {
      if (this.valueAt[i] === undefined) break;
      if (this.keyAt[i] === key) {
        this.valueAt[i] = value;
        return;
      }
      i = (i + 1) & this.mask;
    }
    this.keyAt[i] = key;
    this.valueAt[i] = value;
    if (++this.count * 2 > this.valueAt.length) this.grow();
  }

  delete(key: number): boolean {
    let i = this.find(key);
    if (i < 0) return false;
    this.valueAt[i] = undefined;
    this.count--;
    // shift back the entries of the run after `i` that may no longer be found past the hole
    const mask = this.mask;
    for (let j = (i + 1) & mask; this.valueAt[j] !== undefined; j = (j + 1) & mask) {
      const want = this.home(this.keyAt[j]!);
      // the entry at j stays if its home lies cyclically in (i, j]
      const stays = i <= j ? want > i && want <= j : want > i || want <= j;
      if (stays) continue;
      this.keyAt[i] = this.keyAt[j]!;
      this.valueAt[i] = this.valueAt[j];
      this.valueAt[j] = undefined;
      i = j;
    }
    return true;
  }

  keys(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.valueAt.length; i++) if (this.valueAt[i] !== undefined) out.push(this.keyAt[i]!);
    return out;
  }

  values(): T[] {
    const out: T[] = [];
    for (const v of this.valueAt) if (v !== undefined) out.push(v);
    return out;
  }

  /** [key, value] pairs in key order (ids: the order they came in), a copy: the caller may change the table while going through them. */
  entries(): [number, T][] {
    const out: [number, T][] = [];
    for (let i = 0; i < this.valueAt.length; i++) {
      const v = this.valueAt[i];
      if (v !== undefined) out.push([this.keyAt[i]!, v]);
    }
    return out.sort((a, b) => a[0] - b[0]);
  }

  private find(key: number): number {
    const mask = this.mask;
    for (let i = this.home(key); ; i = (i + 1) & mask) {
      if (this.valueAt[i] === undefined) return -1;
      if (this.keyAt[i] === key) return i;
    }
  }

  private grow(): void {
    const keys = this.keyAt;
    const values = this.valueAt;
    const size = values.length * 2;
    this.keyAt = new Float64Array(size);
    this.valueAt = new Array<T | undefined>(size).fill(undefined);
    this.mask = size - 1;
    this.shift = 32 - Math.log2(size);
    this.count = 0;
    for (let i = 0; i < values.length; i++) if (values[i] !== undefined) this.set(keys[i]!, values[i]!);
    values.fill(undefined); // a dead array in the old generation must not hold the values up
  }

  /**
   * Where a key's probe starts: Fibonacci hashing of its low 32 bits mixed with the high ones.
   * Ids counted up one by one then spread over the table instead of filling one long run, which
   * every deletion near its front would have to walk (most requests end in the order they came).
   */
  private home(key: number): number {
    const high = (key / 4294967296) | 0;
    return Math.imul((key >>> 0) ^ Math.imul(high, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
  }
}
