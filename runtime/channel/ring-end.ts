/**
 * The isolate lane's channel: two rings in one SharedArrayBuffer (host → guest at offset 0,
 * guest → host after it), and the worker's message port beside them for what should not be
 * copied through a ring: a body over `inlineMax` bytes is transferred (moved, not copied) as an
 * ArrayBuffer, and a frame too large for the ring travels whole. Ring entries and messages
 * keep one order, so the reader takes them in turn and waits when a message is not there yet.
 */
import { decodeGuestFrame, decodeHostFrame, encodeFrame, frameSlot, hasExternalBody, type Externals } from "./codec.ts";
import { ByteWriter, FRESH_ARRAYS, type CopyOut } from "./bytes.ts";
import { Listeners, type ChannelEnd, type Decoder, type GuestEnd, type HostEnd } from "./end.ts";
import type { Frame, GuestToHost, HostToGuest } from "./frames.ts";
import { BESIDE, maxFrame, RingReader, ringBytes, RingWriter } from "./ring.ts";
import { Slab } from "./slab.ts";
import { type BufferPool, hostBuffers } from "./buffer-pool.ts";
import { atomicsWakeup, messageWakeup } from "./wakeup.ts";

/** Bytes per ring; a frame up to half of it (less its prefix) goes through the ring. */
export const RING_CAPACITY = 256 * 1024;
/** Bodies up to this size are copied through the ring; larger ones are transferred. */
export const INLINE_BODY_MAX = 32 * 1024;

/** A worker's message port, as the lane needs it: ArrayBuffers (moved) and doorbells (numbers). */
export interface PostPort {
  post(message: ArrayBuffer | number, transfer?: ArrayBuffer[]): void;
  onMessage(listener: (message: unknown) => void): void;
}

/** How a sleeping side is woken: Atomics, or messages where Atomics cannot be trusted (wakeup.ts). */
export type WakeBy = "atomics" | "messages";
/** How a reader takes frames out of its ring: "plain-copy" where shared memory is dear to read (bytes.ts, CopyOut). */
export type RingReads = "in-place" | "plain-copy";

export interface RingEndOptions {
  sab: SharedArrayBuffer;
  port: PostPort;
  capacity?: number;
  /** Runs the reader's drain after a wake-up (default: at once). */
  schedule?: (drain: () => void) => void;
  /** When the other side is woken for what was written: the end of this event-loop turn. */
  wake?: (notify: () => void) => void;
  /** Both ends must agree: the host decides and tells the guest. Default "atomics". */
  wakeBy?: WakeBy;
  /** Default "in-place". */
  reads?: RingReads;
}

/** The shared memory for one instance's channel. */
export function ringChannelMemory(capacity = RING_CAPACITY): SharedArrayBuffer {
  return new SharedArrayBuffer(2 * ringBytes(capacity));
}

/**
 * The host's end. A body the guest transferred is the host's alone: its memory goes to the host's
 * pool once the answer is written (buffer-pool.ts), for the next request's body, which is
 * transferred the other way; else every large body was a new, zeroed array on the host.
 */
export function hostRingEnd(o: RingEndOptions): HostEnd {
  return ringEnd<GuestToHost, HostToGuest>(o, 0, decodeGuestFrame, hostBuffers);
}

export function guestRingEnd(o: RingEndOptions): GuestEnd {
  return ringEnd<HostToGuest, GuestToHost>(o, 1, decodeHostFrame);
}

function ringEnd<In, Out extends Frame>(o: RingEndOptions, side: 0 | 1, decode: Decoder<In>, buffers?: BufferPool): ChannelEnd<In, Out> {
  const capacity = o.capacity ?? RING_CAPACITY;
  const size = ringBytes(capacity);
  const bells = o.wakeBy === "messages" ? messageWakeup((word) => o.port.post(word)) : undefined;
  const wakeup = bells ?? atomicsWakeup;
  const writer = new RingWriter(o.sab, side * size, capacity, o.wake, wakeup);
  const frames = new Listeners<In>();
  const broken = new Listeners<Error>();
  const w = new ByteWriter();
  const taken: Uint8Array[] = [];
  const takeLarge: Externals = { take: (body) => body.byteLength > INLINE_BODY_MAX && taken.push(body) > 0 };
  // only the host takes slices of a slab: a guest's bodies go to functions (slab.ts)
  const copyOut: CopyOut = o.reads === "plain-copy" ? { stringsViaPlainCopy: true, ...(side === 0 ? { slab: new Slab() } : {}) } : FRESH_ARRAYS;
  const inbox: Uint8Array[] = [];
  const fromInbox: Externals = {
    next: () => {
      const body = inbox.shift();
      if (body && buffers) buffers.adopt(body.buffer as ArrayBuffer);
      return body;
    },
  };
  let closed = false;
  let started = false;

  // a lent body (a function's stream chunk, which it may keep and read again) is copied before
  // the move, else the function's array read as empty afterwards and writing to it threw; so is
  // one that shares its buffer with other data, so moving it cannot take that data along
  const post = (bytes: Uint8Array, lent = false) => {
    const exact =
      !lent && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? bytes.buffer : (bytes.slice().buffer as ArrayBuffer);
    o.port.post(exact, [exact]);
  };

  const fail = (e: unknown) => {
    if (closed) return;
    end.close();
    broken.emit(e instanceof Error ? e : new Error(String(e)));
  };

  const reader = new RingReader(
    o.sab,
    (1 - side) * size,
    capacity,
    (entry) => {
      try {
        if (entry === BESIDE) {
          const whole = inbox[0];
          if (!whole || (hasExternalBody(whole) && inbox.length < 2)) return false;
          inbox.shift();
          frames.emit(decode(whole, false, fromInbox), frameSlot(whole));
        } else {
          if (hasExternalBody(entry) && inbox.length === 0) return false;
          frames.emit(decode(entry, copyOut, fromInbox), frameSlot(entry));
        }
        return true;
      } catch (e) {
        fail(e);
        return false;
      }
    },
    o.schedule,
    wakeup,
  );

  o.port.onMessage((m) => {
    if (typeof m === "number" && bells) return bells.ring(m);
    if (!(m instanceof ArrayBuffer)) return fail(new Error("lanes channel: a message beside the ring is not an ArrayBuffer"));
    inbox.push(new Uint8Array(m));
    reader.resume();
  });

  const end: ChannelEnd<In, Out> = {
    send(frame, slot = 0, lent = false) {
      if (closed) return;
      taken.length = 0;
      const bytes = encodeFrame(w, frame, takeLarge, slot);
      if (bytes.byteLength > maxFrame(capacity)) {
        post(bytes.slice());
        for (const b of taken) post(b, lent);
        writer.sendBeside();
      } else {
        for (const b of taken) post(b, lent);
        writer.send(bytes);
      }
    },
    flush() {
      // ring writes are visible at once; a sleeping reader is woken now, not at the end of the turn
      writer.wakeNow();
    },
    drain: () => reader.drainNow(),
    onFrame(l) {
      frames.add(l);
      // reading starts with the first listener: a frame read before would be lost. A Deno guest
      // can write its `ready` before `new Worker` has returned to the host, so before the host
      // made its end (../../adapters/README.md, Workers)
      if (!started) reader.start();
      started = true;
    },
    onBroken: (l) => broken.add(l),
    close() {
      if (closed) return;
      closed = true;
      writer.close();
      reader.close();
    },
  };
  return end;
}
