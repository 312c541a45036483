/**
 * The process lane's large bodies, through a file both sides hold open (on Linux a tmpfs file:
 * memory), instead of through the pipe. A body crossed the pipe in pieces of what the pipe holds:
 * each piece a write, a wake-up and a fresh array on the reader's side, and the pieces assembled
 * again (../../loadtest/README.md, The hot path). Through the file, the sender writes the whole body at
 * once and sends only where it lies (`FileRef`, 12 bytes, in the pipe in its place); the
 * receiver reads it straight into the array it keeps.
 *
 * Each direction has a ring of its own in the file, written by its sender only. Bodies are read
 * in the order they were written (the pipe keeps that order, and a receiver reads a body as soon
 * as its frame arrives), so the ring's free room is what lies behind the receiver's last read,
 * which the receiver records in the file's header and the sender reads when the ring looks full.
 * A body that does not fit (too large, a failed write) goes through the pipe as before: the file
 * is only ever a faster way. One that finds the ring full waits for room (stream-end.ts).
 *
 * The child can write anywhere in the file. What the host reads from it is checked like any
 * frame (the ring's bounds, the length); a child that writes into the host's ring or lies about
 * its reads only spoils the bodies of its own requests.
 */
import { badFrame } from "./bytes.ts";

/** Positional reads and writes of the shared file (adapters/body-file.ts). */
export interface FileIo {
  /** Reads `into.byteLength` bytes at `position`; returns how many it read. */
  read(into: Uint8Array, position: number): number;
  /** Writes all of `bytes` at `position`; returns how many it wrote. */
  write(bytes: Uint8Array, position: number): number;
}

/** The file starts with these 8 bytes, so that a child knows its descriptor 3 is one. */
export const BODY_FILE_MAGIC = new TextEncoder().encode("lanesbf1");
/** The header: the magic, each ring's read position (f64), then the guest's word that it reads the file. */
const HEADER = 4096;
const READ_AT = { toGuest: 8, toHost: 16 } as const;
const GUEST_READS_AT = 24;
/** Each direction's ring. */
export const RING_BYTES = 2 * 1024 * 1024;
/** Larger bodies go through the pipe (the host's buffer pool keeps at most 1 MiB arrays too). */
export const FILE_BODY_MAX = 1024 * 1024;
/** The most a well-behaved pair of sides ever writes to the file. */
export const BODY_FILE_BYTES = HEADER + 2 * RING_BYTES;
/** Where a body lies: its position in the ring (counted from the ring's start, never wrapping) and its length. */
export const FILE_REF_BYTES = 12;

type Direction = keyof typeof READ_AT;
const ringStart = (d: Direction) => HEADER + (d === "toGuest" ? 0 : RING_BYTES);

/** One side's view of the file: it writes one ring and reads the other. */
export class BodyFile {
  private head = 0; // where the next body goes (a count of bytes, never wrapping)
  private tail = 0; // how far the other side has read, as last seen
  private failed = false;
  /** The host writes no body into the file before the guest has said it reads it (an older guest, or one that could not open it, would take the reference for the body). */
  private heard: boolean;
  private readonly ref = new DataView(new ArrayBuffer(FILE_REF_BYTES));
  private readonly word = new Float64Array(1);

  constructor(
    private readonly io: FileIo,
    private readonly out: Direction,
    private readonly into: Direction,
  ) {
    this.heard = out === "toHost";
  }

  /** The file as the host sees it: it writes toward the guest. */
  static host(io: FileIo): BodyFile {
    return new BodyFile(io, "toGuest", "toHost");
  }

  /** The guest's side, which tells the host it reads the file. */
  static guest(io: FileIo): BodyFile | undefined {
    try {
      if (io.write(Uint8Array.of(1), GUEST_READS_AT) !== 1) return undefined;
    } catch {
      return undefined;
    }
    return new BodyFile(io, "toHost", "toGuest");
  }

  /**
   * Writes `body` into this side's ring: the reference to send in its place (valid until the
   * next `put`), "full" (the other side has not read enough of the ring yet: try again later),
   * or "pipe" (send the body through the pipe).
   */
  put(body: Uint8Array): Uint8Array | "full" | "pipe" {
    const n = body.byteLength;
    if (this.failed || n > FILE_BODY_MAX || !(this.heard ||= this.guestReads())) return "pipe";
    let at = this.head;
    // a body never wraps: one that would is put at the ring's start
    if ((at % RING_BYTES) + n > RING_BYTES) at += RING_BYTES - (at % RING_BYTES);
    if (at + n - this.tail > RING_BYTES) {
      this.tail = this.readPosition();
      if (at + n - this.tail > RING_BYTES) return "full";
    }
    try {
      if (this.io.write(body, ringStart(this.out) + (at % RING_BYTES)) !== n) throw new Error("short write");
    } catch {
      // no room on the device, or the file is gone: the pipe from now on
      this.failed = true;
      return "pipe";
    }
    this.head = at + n;
    this.ref.setFloat64(0, at);
    this.ref.setUint32(8, n);
    return new Uint8Array(this.ref.buffer);
  }

  /** The body a reference from the other side points to, read into an array from `alloc`. */
  take(ref: Uint8Array, alloc: (n: number) => Uint8Array): Uint8Array {
    if (ref.byteLength !== FILE_REF_BYTES) throw badFrame(`a ${ref.byteLength}-byte body reference`);
    const view = new DataView(ref.buffer, ref.byteOffset, FILE_REF_BYTES);
    const at = view.getFloat64(0);
    const n = view.getUint32(8);
    const offset = at % RING_BYTES;
    if (!Number.isSafeInteger(at) || at < 0 || n === 0 || n > FILE_BODY_MAX || offset + n > RING_BYTES) {
      throw badFrame(`a body reference out of its ring (${at}, ${n} bytes)`);
    }
    const body = alloc(n);
    let got: number;
    try {
      got = this.io.read(body, ringStart(this.into) + offset);
    } catch (e) {
      throw badFrame(`the body file could not be read: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (got !== n) throw badFrame(`a body of ${n} bytes had ${got} in the file`);
    this.word[0] = at + n; // how far this side has read
    try {
      this.io.write(new Uint8Array(this.word.buffer), READ_AT[this.into]);
    } catch {
      // the other side then finds its ring full: its bodies wait, then take the pipe (stream-end.ts)
    }
    return body;
  }

  private guestReads(): boolean {
    const word = new Uint8Array(1);
    try {
      return this.io.read(word, GUEST_READS_AT) === 1 && word[0] === 1;
    } catch {
      return false;
    }
  }

  /** How far the other side has read this side's ring (what it wrote there, kept within what is possible). */
  private readPosition(): number {
    const word = new Uint8Array(8);
    try {
      if (this.io.read(word, READ_AT[this.out]) !== 8) return this.tail;
    } catch {
      return this.tail;
    }
    const seen = new Float64Array(word.buffer)[0]!;
    return Number.isSafeInteger(seen) && seen >= this.tail && seen <= this.head ? seen : this.tail;
  }
}
