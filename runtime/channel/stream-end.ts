/**
 * The process lane's channel: frames over a pair of byte pipes (the child's stdin carries
 * host → guest, its stdout guest → host). Bodies are raw bytes: up to `PIPE_INLINE_MAX` inside
 * their frame; a larger one follows its frame as a frame of its own, written to the pipe as it
 * is, so it is not copied into the frame and then into the batch (two copies of each large
 * body, and two large allocations, per side: loadtest/README.md, The hot path). Where the child
 * shares a body file with its host (body-file.ts), a large body is written there instead and
 * only its 12-byte reference follows the frame.
 */
import { badFrame, ByteWriter } from "./bytes.ts";
import { decodeGuestFrame, decodeHostFrame, encodeFrame, frameSlot, hasExternalBody, type Externals } from "./codec.ts";
import { Listeners, type ChannelEnd, type Decoder, type GuestEnd, type HostEnd, type Scheduler } from "./end.ts";
import type { Frame, GuestToHost, HostToGuest } from "./frames.ts";
import { FrameBatcher, FrameSplitter } from "./stream.ts";
import { type BufferPool, hostBuffers } from "./buffer-pool.ts";
import { BodyFile, type FileIo } from "./body-file.ts";

/** A byte pipe pair as the runtime gives it. */
export interface BytePipe {
  /** `written` (optional) runs once the pipe has taken `bytes`, or failed to: they may be reused then. */
  write(bytes: Uint8Array, written?: () => void): void;
  onData(listener: (chunk: Uint8Array) => void): void;
  /** A file both sides hold open, for large bodies (body-file.ts); without it they cross the pipe. */
  file?: FileIo;
}

/** The host's end: large bodies come from and go back to the host's buffer pool (buffer-pool.ts). */
export function hostStreamEnd(pipe: BytePipe, schedule: Scheduler): HostEnd {
  return streamEnd<GuestToHost, HostToGuest>(pipe, schedule, decodeGuestFrame, pipe.file && BodyFile.host(pipe.file), hostBuffers);
}

export function guestStreamEnd(pipe: BytePipe, schedule: Scheduler): GuestEnd {
  return streamEnd<HostToGuest, GuestToHost>(pipe, schedule, decodeHostFrame, pipe.file && BodyFile.guest(pipe.file));
}

/** Bodies up to this size travel inside their frame; larger ones in a frame of their own after it. */
export const PIPE_INLINE_MAX = 64 * 1024;

function streamEnd<In, Out extends Frame>(pipe: BytePipe, schedule: Scheduler, decode: Decoder<In>, file?: BodyFile, buffers?: BufferPool): ChannelEnd<In, Out> {
  const frames = new Listeners<In>();
  const broken = new Listeners<Error>();
  const w = new ByteWriter();
  const out = new FrameBatcher((bytes, written) => (closed ? written?.() : pipe.write(bytes, written)), schedule);
  let closed = false;
  // a body the sender gives away (frames.ts: the receiver keeps it) goes to the pipe untouched
  let taken: Uint8Array | undefined;
  const takeLarge: Externals = { take: (body) => body.byteLength > PIPE_INLINE_MAX && (taken = body) !== undefined };
  // a frame whose body follows it waits for that next frame
  let held: Uint8Array | undefined;
  let beside: Uint8Array | undefined;
  const fromPipe: Externals = { next: () => beside };
  const alloc = buffers ? (n: number) => buffers.take(n) : undefined;
  const fresh = (n: number) => new Uint8Array(n);
  const splitter = new FrameSplitter((bytes) => {
    if (held) {
      const head = held;
      held = undefined;
      // a body beside its frame is over PIPE_INLINE_MAX bytes; a reference to one in the file is 12
      if (bytes.byteLength > PIPE_INLINE_MAX) beside = bytes;
      else if (file) beside = file.take(bytes, alloc ?? fresh);
      else throw badFrame(`a ${bytes.byteLength}-byte body beside its frame, and no body file`);
      frames.emit(decode(head, false, fromPipe), frameSlot(head));
      beside = undefined;
    } else if (hasExternalBody(bytes)) held = bytes;
    else frames.emit(decode(bytes, false), frameSlot(bytes));
  }, alloc);
  pipe.onData((chunk) => {
    if (closed) return;
    try {
      splitter.push(chunk);
    } catch (e) {
      closed = true;
      broken.emit(e instanceof Error ? e : new Error(String(e)));
    }
  });
  return {
    send(frame, slot = 0) {
      if (closed) return;
      taken = undefined;
      out.send(encodeFrame(w, frame, takeLarge, slot));
      if (!taken) return;
      const body = taken;
      // in the file, the body is written already: nothing holds it
      const ref = file?.put(body);
      if (ref) return out.send(ref);
      if (!buffers) return out.sendOwned(body);
      // a pooled body is not handed out again while the pipe may still be reading it
      buffers.writing(body);
      out.sendOwned(body, () => buffers.written(body));
    },
    flush: () => out.flush(),
    drain() {
      // a pipe delivers everything before the child counts as gone ('close')
    },
    onFrame: (l) => frames.add(l),
    onBroken: (l) => broken.add(l),
    close() {
      closed = true;
    },
  };
}
