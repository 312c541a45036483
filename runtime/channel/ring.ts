/**
 * A single-producer single-consumer ring of variable-size frames in a SharedArrayBuffer: the
 * isolate lane's channel, one ring each way per instance. Neither side spins: a reader with
 * nothing to read sleeps (`Atomics.waitAsync`, or a message doorbell where that cannot be
 * trusted: wakeup.ts) and the writer wakes it only when it sleeps, at most once per turn of its
 * event loop; a writer that finds the ring full keeps its frames and waits for room the same
 * way. Under load the reader is rarely asleep, so most frames cost no wake-up at all (the cost
 * of one is measured in ../../adapters/README.md, Channel).
 *
 * Layout: a header of Int32 words (below), then `capacity` bytes (a power of two). Positions
 * are uint32 counters that only grow; a frame is `[length u32][bytes][padding to 4]`, never
 * split: a frame that does not fit before the end leaves a WRAP marker and starts at 0.
 *
 * Written without a library: ringbuf.js (the well-kept SAB ring) moves fixed-size elements
 * and has no wake-up, and both are what this channel needs.
 */
import { atomicsWakeup, WAIT_READ, WAIT_WRITE, type Wakeup } from "./wakeup.ts";

const WRITE = WAIT_WRITE;
const READ = WAIT_READ;
const READER_ASLEEP = 2;
const WRITER_WAITING = 3;
const CLOSED = 4;
export const RING_HEADER_BYTES = 64;

const WRAP = 0xffffffff;
/** A frame that travelled beside the ring (a posted message), in order: take the next one. */
export const BESIDE = 0xfffffffe;

export function ringBytes(capacity: number): number {
  return RING_HEADER_BYTES + capacity;
}

/** The largest frame that fits in a ring of `capacity` bytes. */
export function maxFrame(capacity: number): number {
  return capacity / 2 - 8;
}

interface Ring {
  ctl: Int32Array;
  data: Uint8Array;
  view: DataView;
  mask: number;
}

function ringAt(sab: SharedArrayBuffer, offset: number, capacity: number): Ring {
  if (capacity < 64 || (capacity & (capacity - 1)) !== 0) throw new RangeError(`ring capacity must be a power of two >= 64 (got ${capacity})`);
  const data = new Uint8Array(sab, offset + RING_HEADER_BYTES, capacity);
  return { ctl: new Int32Array(sab, offset, RING_HEADER_BYTES / 4), data, view: new DataView(sab, offset + RING_HEADER_BYTES, capacity), mask: capacity - 1 };
}

const pad = (n: number) => (n + 3) & ~3;

/** The writing end. `send` never blocks: what does not fit waits in order for room. */
export class RingWriter {
  private readonly r: Ring;
  private pos: number;
  private readonly waiting: Uint8Array[] = [];
  private notifyQueued = false;
  private waitingForRoom = false;

  /**
   * `schedule` decides when a sleeping reader is woken: at the end of this turn of the event
   * loop, every frame written during the turn goes with one wake-up (default: after the
   * current microtasks).
   */
  constructor(
    sab: SharedArrayBuffer,
    offset: number,
    capacity: number,
    private readonly schedule: (notify: () => void) => void = queueMicrotask,
    private readonly wakeup: Wakeup = atomicsWakeup,
  ) {
    this.r = ringAt(sab, offset, capacity);
    this.pos = Atomics.load(this.r.ctl, WRITE) >>> 0;
  }

  /** Queue a frame. `bytes` may be reused by the caller once this returns. */
  send(bytes: Uint8Array): void {
    if (this.waiting.length === 0 && this.tryWrite(bytes.byteLength, bytes)) return;
    this.waiting.push(bytes.slice());
    this.waitForRoom();
  }

  /** Mark a frame that travels beside the ring: the reader takes the next posted message. */
  sendBeside(): void {
    if (this.waiting.length === 0 && this.tryWrite(BESIDE)) return;
    this.waiting.push(new Uint8Array(0)); // placeholder: an empty entry means BESIDE
    this.waitForRoom();
  }

  /** Frames waiting for room in the ring. */
  get backlog(): number {
    return this.waiting.length;
  }

  close(): void {
    Atomics.store(this.r.ctl, CLOSED, 1);
    this.wakeup.wake(this.r.ctl, WRITE);
  }

  /** Whether an entry of `size` bytes fits now; `skip` is what a wrap to 0 would take first. */
  private room(size: number): { fits: boolean; skip: number } {
    const { ctl, mask } = this.r;
    const capacity = mask + 1;
    const at = this.pos & mask;
    const skip = at + size > capacity ? capacity - at : 0;
    const used = (this.pos - Atomics.load(ctl, READ)) >>> 0;
    return { fits: used + skip + size <= capacity, skip };
  }

  private tryWrite(len: number, bytes?: Uint8Array): boolean {
    const { ctl, view, data, mask } = this.r;
    const size = 4 + (bytes ? pad(len) : 0);
    let at = this.pos & mask;
    const { fits, skip } = this.room(size);
    if (!fits) return false;
    if (skip) {
      view.setUint32(at, WRAP);
      this.pos = (this.pos + skip) >>> 0;
      at = 0;
    }
    view.setUint32(at, len);
    if (bytes) data.set(bytes, at + 4);
    this.pos = (this.pos + size) >>> 0;
    Atomics.store(ctl, WRITE, this.pos | 0);
    if (!this.notifyQueued) {
      this.notifyQueued = true;
      this.schedule(this.notify);
    }
    return true;
  }

  /** Wakes a sleeping reader now for what was written (its scheduled wake-up then finds it awake). */
  wakeNow(): void {
    if (this.notifyQueued) this.notify();
  }

  private readonly notify = () => {
    this.notifyQueued = false;
    if (Atomics.load(this.r.ctl, READER_ASLEEP) === 1) this.wakeup.wake(this.r.ctl, WRITE);
  };

  private flushWaiting(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting[0]!;
      const ok = next.byteLength === 0 ? this.tryWrite(BESIDE) : this.tryWrite(next.byteLength, next);
      if (!ok) {
        this.waitForRoom();
        return;
      }
      this.waiting.shift();
    }
  }

  private waitForRoom(): void {
    if (this.waitingForRoom) return;
    const { ctl } = this.r;
    this.waitingForRoom = true;
    Atomics.store(ctl, WRITER_WAITING, 1);
    const read = Atomics.load(ctl, READ);
    const again = () => {
      this.waitingForRoom = false;
      Atomics.store(ctl, WRITER_WAITING, 0);
      if (Atomics.load(ctl, CLOSED) === 0) this.flushWaiting();
    };
    // room may have come between the failed write and the flag: the reader then saw no flag
    const head = this.waiting[0];
    if (!head || this.room(4 + pad(head.byteLength)).fits) {
      queueMicrotask(again);
      return;
    }
    this.wakeup.wait(ctl, READ, read, again);
  }
}

/**
 * The reading end. `onFrame` gets a view into the ring, valid only during the call; it returns
 * false to stop before consuming the frame (it needs something not there yet: call `resume()`
 * once it is). `schedule` runs the drain after a wake-up (a Deno guest needs a macrotask).
 */
export class RingReader {
  private readonly r: Ring;
  private pos: number;
  private paused = false;
  private closed = false;

  constructor(
    sab: SharedArrayBuffer,
    offset: number,
    capacity: number,
    private readonly onFrame: (bytes: Uint8Array | typeof BESIDE) => boolean,
    private readonly schedule: (drain: () => void) => void = (d) => d(),
    private readonly wakeup: Wakeup = atomicsWakeup,
  ) {
    this.r = ringAt(sab, offset, capacity);
    this.pos = Atomics.load(this.r.ctl, READ) >>> 0;
  }

  start(): void {
    this.loop();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.loop();
  }

  /** Read whatever is in the ring now, whether or not a wake-up came. */
  drainNow(): void {
    if (!this.closed && !this.paused && !this.drain()) this.paused = true;
  }

  /** Stop reading for good (the instance is gone); wakes a sleeping wait so nothing is left pending. */
  close(): void {
    this.closed = true;
    Atomics.store(this.r.ctl, CLOSED, 1);
    this.wakeup.close(this.r.ctl); // our own pending wait
    this.wakeup.wake(this.r.ctl, READ); // a writer waiting for room
  }

  private loop = (): void => {
    if (this.closed || this.paused) return;
    if (!this.drain()) {
      this.paused = true;
      return;
    }
    this.sleep();
  };

  /** Read every frame there is. False when `onFrame` asked to pause. */
  private drain(): boolean {
    const { ctl, view, data, mask } = this.r;
    const capacity = mask + 1;
    for (;;) {
      const write = Atomics.load(ctl, WRITE) >>> 0;
      if (write === this.pos || this.closed) return true;
      const at = this.pos & mask;
      const len = view.getUint32(at);
      if (len === WRAP) {
        this.pos = (this.pos + (capacity - at)) >>> 0;
        continue;
      }
      const isBeside = len === BESIDE;
      if (!isBeside && (len > maxFrame(capacity) || at + 4 + len > capacity)) {
        throw new RangeError(`lanes channel: corrupt ring (a ${len}-byte frame at ${at} of ${capacity})`);
      }
      if (!this.onFrame(isBeside ? BESIDE : data.subarray(at + 4, at + 4 + len))) return false;
      this.pos = (this.pos + 4 + (isBeside ? 0 : pad(len))) >>> 0;
      Atomics.store(ctl, READ, this.pos | 0);
      if (Atomics.load(ctl, WRITER_WAITING) === 1) this.wakeup.wake(ctl, READ);
    }
  }

  private sleep(): void {
    const { ctl } = this.r;
    Atomics.store(ctl, READER_ASLEEP, 1);
    const write = Atomics.load(ctl, WRITE);
    if (write >>> 0 !== this.pos) {
      Atomics.store(ctl, READER_ASLEEP, 0);
      this.schedule(this.loop);
      return;
    }
    if (Atomics.load(ctl, CLOSED) === 1) {
      this.closed = true; // the writer is gone and everything it wrote has been read
      return;
    }
    this.wakeup.wait(ctl, WRITE, write, () => {
      Atomics.store(ctl, READER_ASLEEP, 0);
      this.schedule(this.loop);
    });
  }
}
