/**
 * The byte-level reader and writer under the frame codec. Numbers are big-endian. Text is
 * written as a *string block*: the strings' UTF-16 lengths, then all of them as one UTF-8 run,
 * so a frame's strings cost one encodeInto and one decode whatever their number (a decode
 * call costs more than the bytes it reads; measured in ../../adapters/README.md, Channel).
 */
import { LanesError } from "../errors.ts";
import type { Slab } from "./slab.ts";

const encoder = new TextEncoder();
/** The most strings a string block holds: its count is a u16. */
export const MAX_STRINGS = 0xffff;
const decoder = new TextDecoder("utf-8", { fatal: false });

export class ByteWriter {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  private at = 0;

  reset(): this {
    this.at = 0;
    return this;
  }

  get length(): number {
    return this.at;
  }

  /** The bytes written since reset (a view: valid until the next reset). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.at);
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.at++] = v;
  }

  u16(v: number): void {
    this.room(2);
    this.view.setUint16(this.at, v);
    this.at += 2;
  }

  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.at, v);
    this.at += 4;
  }

  f64(v: number): void {
    this.room(8);
    this.view.setFloat64(this.at, v);
    this.at += 8;
  }

  /** A length-prefixed byte run. */
  bytesField(b: Uint8Array): void {
    this.u32(b.byteLength);
    this.room(b.byteLength);
    this.buf.set(b, this.at);
    this.at += b.byteLength;
  }

  /** A string block: count, each string's UTF-16 length, then all of them as one UTF-8 run. */
  strings(list: readonly string[]): void {
    // a count that did not fit its 16 bits was written wrapped, and the reader closed the channel
    if (list.length > MAX_STRINGS) throw new LanesError("internal", `lanes channel: ${list.length} strings in one frame, at most ${MAX_STRINGS}`);
    let joined = "";
    this.room(2 + 4 * list.length + 4);
    this.view.setUint16(this.at, list.length);
    this.at += 2;
    for (const s of list) {
      // a non-string was written with a length its text did not have, and the reader closed the
      // channel: the whole instance stopped (a Response subclass whose statusText is a number)
      if (typeof s !== "string") throw new LanesError("function_error", `a frame's text is a ${typeof s}, not a string (a status text or a header of the answer?)`);
      this.view.setUint32(this.at, s.length);
      this.at += 4;
      joined += s;
    }
    // UTF-8 takes at most 3 bytes per UTF-16 code unit
    this.room(4 + joined.length * 3);
    const { written } = encoder.encodeInto(joined, this.buf.subarray(this.at + 4));
    this.view.setUint32(this.at, written);
    this.at += 4 + written;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.at + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}

/** A malformed frame: the other side is broken or hostile; the channel is closed. */
export function badFrame(why: string): LanesError {
  return new LanesError("internal", `lanes channel: malformed frame (${why})`);
}

/**
 * How a reader keeps what it reads from memory that will be overwritten (a ring). Where a
 * runtime reads shared memory as fast as plain memory (Node, Bun), strings are decoded in place
 * and each byte field gets an array of its own. Deno's TextDecoder costs four times as much on
 * shared memory (and four mallocs) as on plain, and each new array three mallocs, so a Deno
 * reader decodes from a plain copy and copies small fields into a slab (../../adapters/README.md, Channel).
 */
export interface CopyOut {
  stringsViaPlainCopy: boolean;
  slab?: Slab;
}

/** Strings decoded in place, an array per byte field. */
export const FRESH_ARRAYS: CopyOut = { stringsViaPlainCopy: false };

let plain = new Uint8Array(4096);

/** `n` bytes of `buf` from `at`, copied to plain memory (valid until the next call). */
function plainCopy(buf: Uint8Array, at: number, n: number): Uint8Array {
  if (n > plain.byteLength) plain = new Uint8Array(Math.max(n, plain.byteLength * 2));
  plain.set(buf.subarray(at, at + n));
  return plain.subarray(0, n);
}

export class ByteReader {
  private at = 0;

  /** `copy`: false when the reader may keep views into `buf`, else how to copy out of it. */
  constructor(
    private readonly buf: Uint8Array,
    private readonly copy: false | CopyOut,
  ) {}

  get done(): boolean {
    return this.at === this.buf.byteLength;
  }

  u8(): number {
    this.need(1);
    return this.buf[this.at++]!;
  }

  u16(): number {
    this.need(2);
    const b = this.buf;
    const v = (b[this.at]! << 8) | b[this.at + 1]!;
    this.at += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.peek32(this.at);
    this.at += 4;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.at, 8).getFloat64(0);
    this.at += 8;
    return v;
  }

  bytesField(): Uint8Array {
    const n = this.u32();
    this.need(n);
    const view = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    if (!this.copy) return view;
    // `set` into a new array is faster than `slice` of a shared-memory view (measured, Node)
    const copy = this.copy.slab ? this.copy.slab.take(n) : new Uint8Array(n);
    copy.set(view);
    return copy;
  }

  strings(): string[] {
    const count = this.u16();
    this.need(4 * count + 4);
    const lengths = new Array<number>(count);
    let total = 0;
    for (let i = 0; i < count; i++) {
      lengths[i] = this.peek32(this.at);
      this.at += 4;
      total += lengths[i]!;
    }
    const n = this.u32();
    this.need(n);
    const run = this.copy !== false && this.copy.stringsViaPlainCopy ? plainCopy(this.buf, this.at, n) : this.buf.subarray(this.at, this.at + n);
    const joined = decoder.decode(run);
    this.at += n;
    if (joined.length !== total) throw badFrame("string lengths do not add up");
    const out = new Array<string>(count);
    let from = 0;
    for (let i = 0; i < count; i++) {
      out[i] = joined.slice(from, from + lengths[i]!);
      from += lengths[i]!;
    }
    return out;
  }

  private peek32(at: number): number {
    const b = this.buf;
    return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  }

  private need(n: number): void {
    if (this.at + n > this.buf.byteLength) throw badFrame("truncated");
  }
}

/** A frame's strings, when it must carry exactly one, or two (codec.ts decodes with them). */
export function one(s: string[]): string {
  if (s.length !== 1) throw badFrame("expected one string");
  return s[0]!;
}

export function two(s: string[]): [string, string] {
  if (s.length !== 2) throw badFrame("expected two strings");
  return [s[0]!, s[1]!];
}
