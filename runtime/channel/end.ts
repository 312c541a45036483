/**
 * One end of a channel between the host and a guest: send frames, receive frames. The host's
 * end sends HostToGuest and receives GuestToHost; the guest's end the other way round. Both
 * lanes give the same interface (ring-end.ts for the isolate lane, stream-end.ts for the
 * process lane), so the instance and the guest do not know which lane they are in.
 */
import type { CopyOut } from "./bytes.ts";
import type { Externals } from "./codec.ts";
import type { GuestToHost, HostToGuest } from "./frames.ts";

export interface ChannelEnd<In, Out> {
  /**
   * Send a frame. A large body may be *moved* rather than copied (the isolate lane transfers
   * its ArrayBuffer): pass bytes the caller owns and does not touch again, or say `lent`.
   * `lent`: the body is still someone else's, who may keep it, read it and write it again (a
   * function's stream chunk): an end that would move it, or hold it past this call, copies it.
   */
  send(frame: Out, slot?: number, lent?: boolean): void;
  /**
   * Undefined while this end takes more frames at once, else resolves once it does: the process
   * lane's pipe holds its limit of bytes not yet written (a streamed answer waits for it before
   * reading more of the function's stream). The isolate lane's ring has no such queue.
   */
  room?(): Promise<void> | undefined;
  /** Send what is batched now (before this side ends). */
  flush(): void;
  /** Read what has arrived now, at once (the other side is gone: its last frames still count). */
  drain(): void;
  /** `slot`: which function the frame is for (0: the guest itself; codec.ts). */
  onFrame(listener: (frame: In, slot: number) => void): void;
  /** The other side sent something that is not a frame: the channel is closed. */
  onBroken(listener: (error: Error) => void): void;
  /** Bytes sent that the other side has not read yet and this side still holds (a pipe's backlog); 0 where none wait. */
  unread?(): number;
  close(): void;
}

export type HostEnd = ChannelEnd<GuestToHost, HostToGuest>;
export type GuestEnd = ChannelEnd<HostToGuest, GuestToHost>;

/** How an end reads the frames coming its way: decodeGuestFrame on the host, decodeHostFrame in a guest. */
export type Decoder<In> = (bytes: Uint8Array, copy: false | CopyOut, ext?: Externals) => In;

/** Calls `fn` at the end of this turn of the event loop (setImmediate where the runtime has it). */
export type Scheduler = (fn: () => void) => void;

/** A small listener list; `slot` goes along with a frame (0 for anything else). */
export class Listeners<T> {
  private readonly list: ((value: T, slot: number) => void)[] = [];
  add(l: (value: T, slot: number) => void): void {
    this.list.push(l);
  }
  emit(value: T, slot = 0): void {
    for (const l of this.list) l(value, slot);
  }
}
