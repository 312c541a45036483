/**
 * Frames over a byte pipe (the process lane: the child's stdin and stdout): each frame is
 * `[length u32][bytes]`. Writes made in one turn of the event loop leave in one write call, so
 * under load a hop costs one system call per batch, not per frame.
 */
import { badFrame } from "./bytes.ts";

/** Largest frame accepted from a pipe: bodies are bounded by maxBodyBytes (at most 1 GiB). */
export const MAX_PIPE_FRAME = 1024 * 1024 * 1024 + 64 * 1024;

/** Cuts a stream of byte chunks into frames. A frame may span any number of chunks. */
export class FrameSplitter {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Length of the frame being assembled, once its prefix is known. */
  private want = -1;
  /** Whether the frame being assembled has been held to `maxOf` its kind (its first byte). */
  private kindChecked = false;
  /** Frames it may still hand out before it stops for its reader (`more`); what comes meanwhile waits. */
  private left = Number.POSITIVE_INFINITY;

  /**
   * `alloc` makes the array for a frame that spans chunks (the host's comes from its buffer pool).
   * `max`: the largest frame taken; a longer one is refused as its length arrives, before any of
   * it is kept (the host gives a child what it may hold: a child that announced 1 GiB and
   * trickled it held as much of the host's memory until a request's deadline).
   */
  constructor(
    private readonly onFrame: (frame: Uint8Array) => void,
    private readonly alloc: (n: number) => Uint8Array = (n) => new Uint8Array(n),
    private readonly max = MAX_PIPE_FRAME,
    /** The largest frame of a kind, where it is less than `max`: refused once its first byte arrives, before it is kept. */
    private readonly maxOf?: (kind: number) => number,
  ) {}

  private checkKind(len: number, kind: number): void {
    const max = this.maxOf?.(kind) ?? this.max;
    if (len > max) throw badFrame(`a ${len}-byte frame of kind ${kind}, over the ${max} its sender may send`);
  }

  /** It has handed out all the frames `more` allowed: the rest waits for the next `more`. */
  get spent(): boolean {
    return this.left === 0;
  }

  /** Hand out up to `frames` more frames of what has arrived; then, as many as arrive, until it is `spent` again. */
  more(frames: number): void {
    this.left = frames;
    this.assemble();
  }

  push(chunk: Uint8Array): void {
    let at = 0;
    // the common case: whole frames inside one chunk, nothing pending (not even a frame whose
    // length prefix came at the end of the last chunk)
    if (this.pendingBytes === 0 && this.want < 0) {
      const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      while (chunk.byteLength - at >= 4 && this.left > 0) {
        const len = view.getUint32(at);
        if (len > this.max) throw badFrame(`a ${len}-byte frame, over the ${this.max} its sender may send`);
        if (this.maxOf && chunk.byteLength - at > 4) this.checkKind(len, chunk[at + 4]!);
        if (chunk.byteLength - at - 4 < len) break;
        this.left--;
        this.onFrame(chunk.subarray(at + 4, at + 4 + len));
        at += 4 + len;
      }
      if (at === chunk.byteLength) return;
    }
    this.pending.push(at === 0 ? chunk : chunk.subarray(at));
    this.pendingBytes += chunk.byteLength - at;
    this.assemble();
  }

  private assemble(): void {
    while (this.left > 0) {
      if (this.want < 0) {
        if (this.pendingBytes < 4) return;
        const head = this.take(4);
        this.want = new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
        if (this.want > this.max) throw badFrame(`a ${this.want}-byte frame, over the ${this.max} its sender may send`);
        this.kindChecked = false;
      }
      if (this.maxOf && !this.kindChecked && this.pendingBytes > 0) {
        this.checkKind(this.want, this.pending[0]![0]!);
        this.kindChecked = true;
      }
      if (this.pendingBytes < this.want) return;
      const frame = this.take(this.want);
      this.want = -1;
      this.left--;
      this.onFrame(frame);
    }
  }

  /** The next `n` pending bytes, as one array (a view when they sit in one chunk). */
  private take(n: number): Uint8Array {
    const first = this.pending[0]!;
    let out: Uint8Array;
    if (first.byteLength >= n) {
      out = first.subarray(0, n);
      if (first.byteLength === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
    } else {
      out = this.alloc(n);
      let at = 0;
      while (at < n) {
        const c = this.pending[0]!;
        const use = Math.min(c.byteLength, n - at);
        out.set(c.subarray(0, use), at);
        at += use;
        if (use === c.byteLength) this.pending.shift();
        else this.pending[0] = c.subarray(use);
      }
    }
    this.pendingBytes -= n;
    return out;
  }
}

/** A batch buffer grown past this by a burst is dropped once written, not kept for reuse. */
const KEEP_MAX = 64 * 1024;
const FIRST_SIZE = 16 * 1024;
/** Buffers kept for reuse: a pipe holds a batch only until it is written, so a few suffice. */
const SPARES = 4;

/**
 * Collects frames and hands them to `write` as one byte array per batch. `schedule` decides when
 * a batch leaves (the end of this event-loop turn); a batch over `flushAt` bytes leaves at once.
 *
 * A batch leaves as a view of the batcher's buffer, which is used again once `write` says the
 * pipe has taken it (`written`); until then the next batch goes into a spare. A new buffer per
 * batch was 3.5% of a Bun host's thread relaying hello, and a copy per batch, 0.7 µs per
 * request of a Deno host's thread (../../loadtest/README.md, The hot path). A writer that never says
 * `written` gets a new buffer per batch.
 */
export class FrameBatcher {
  private buf: Uint8Array = new Uint8Array(FIRST_SIZE);
  private at = 0;
  private queued = false;
  private readonly spares: Uint8Array[] = [];

  constructor(
    private readonly write: (bytes: Uint8Array, written?: () => void) => void,
    private readonly schedule: (flush: () => void) => void,
    private readonly flushAt = 256 * 1024,
  ) {}

  /** Queue a frame; `bytes` may be reused by the caller once this returns. */
  send(bytes: Uint8Array): void {
    const need = this.at + 4 + bytes.byteLength;
    if (need > this.buf.byteLength) this.grow(need);
    this.prefix(bytes.byteLength);
    this.buf.set(bytes, this.at);
    this.at = need;
    if (this.at >= this.flushAt) this.flush();
    else if (!this.queued) {
      this.queued = true;
      this.schedule(this.flush);
    }
  }

  /**
   * Queue a frame whose bytes are the pipe's to keep (the caller never touches them again): what
   * is queued leaves with its length prefix, then the bytes themselves, uncopied. `written`
   * runs once the pipe has taken them (or failed to).
   */
  sendOwned(bytes: Uint8Array, written?: () => void): void {
    const need = this.at + 4;
    if (need > this.buf.byteLength) this.grow(need);
    this.prefix(bytes.byteLength);
    this.flush();
    this.write(bytes, written);
  }

  /** Send what is queued now. */
  readonly flush = (): void => {
    this.queued = false;
    if (this.at === 0) return;
    const full = this.buf;
    const out = full.subarray(0, this.at);
    this.buf = this.spares.pop() ?? new Uint8Array(FIRST_SIZE);
    this.at = 0;
    this.write(out, () => {
      if (full.byteLength <= KEEP_MAX && this.spares.length < SPARES) this.spares.push(full);
    });
  };

  /** The 4-byte big-endian length of the next frame, at `at` (then past it). */
  private prefix(n: number): void {
    const b = this.buf;
    const at = this.at;
    b[at] = n >>> 24;
    b[at + 1] = (n >>> 16) & 0xff;
    b[at + 2] = (n >>> 8) & 0xff;
    b[at + 3] = n & 0xff;
    this.at = at + 4;
  }

  private grow(need: number): void {
    let size = this.buf.byteLength * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
  }
}
