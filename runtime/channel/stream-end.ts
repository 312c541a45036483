/**
 * The process lane's channel: frames over a pair of byte pipes (the child's stdin carries
 * host → guest, its stdout guest → host). Bodies are raw bytes inside the frames.
 */
import { ByteWriter } from "./bytes.ts";
import { decodeGuestFrame, decodeHostFrame, encodeFrame, frameSlot } from "./codec.ts";
import { Listeners, type ChannelEnd, type GuestEnd, type HostEnd, type Scheduler } from "./end.ts";
import type { Frame, GuestToHost, HostToGuest } from "./frames.ts";
import { FrameBatcher, FrameSplitter } from "./stream.ts";

/** A byte pipe pair as the runtime gives it. */
export interface BytePipe {
  write(bytes: Uint8Array): void;
  onData(listener: (chunk: Uint8Array) => void): void;
}

export function hostStreamEnd(pipe: BytePipe, schedule: Scheduler): HostEnd {
  return streamEnd<GuestToHost, HostToGuest>(pipe, schedule, decodeGuestFrame);
}

export function guestStreamEnd(pipe: BytePipe, schedule: Scheduler): GuestEnd {
  return streamEnd<HostToGuest, GuestToHost>(pipe, schedule, decodeHostFrame);
}

function streamEnd<In, Out extends Frame>(pipe: BytePipe, schedule: Scheduler, decode: (bytes: Uint8Array, copy: boolean) => In): ChannelEnd<In, Out> {
  const frames = new Listeners<In>();
  const broken = new Listeners<Error>();
  const w = new ByteWriter();
  const out = new FrameBatcher((bytes) => !closed && pipe.write(bytes), schedule);
  let closed = false;
  const splitter = new FrameSplitter((bytes) => frames.emit(decode(bytes, false), frameSlot(bytes)));
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
      if (!closed) out.send(encodeFrame(w, frame, undefined, slot));
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
