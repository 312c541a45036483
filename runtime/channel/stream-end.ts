/**
 * The process lane's channel: frames over a pair of byte pipes (the child's stdin carries
 * host → guest, its stdout guest → host). Bodies are raw bytes: up to `PIPE_INLINE_MAX` inside
 * their frame; a larger one follows its frame as a frame of its own, written to the pipe as it
 * is, so it is not copied into the frame and then into the batch (two copies of each large
 * body, and two large allocations, per side: ../../loadtest/README.md, The hot path). Where the child
 * shares a body file with its host (body-file.ts), a large body is written there instead and
 * only its 12-byte reference follows the frame.
 *
 * A body that finds its ring in the file full waits for the other side to read (it reads a body
 * as soon as its frame arrives, so the ring is full only while that side is behind by a ring's
 * worth of bodies), and every frame after it waits behind it, in order. Through the pipe
 * instead, each such body cost both sides more than the file (a Bun host under `body` load sent
 * three in five answers that way: ../../loadtest/README.md, The hot path). A body that has waited
 * ROOM_WAIT_MS (a side that never reads its ring) goes through the pipe after all.
 */
import { badFrame, ByteWriter } from "./bytes.ts";
import { decodeGuestFrame, decodeHostFrame, encodeFrame, frameSlot, hasExternalBody, RPC_KIND, type Externals } from "./codec.ts";
import { Listeners, type ChannelEnd, type Decoder, type GuestEnd, type HostEnd, type Scheduler } from "./end.ts";
import { type Frame, type GuestToHost, type HostToGuest, MAX_GUEST_RPC } from "./frames.ts";
import { FrameBatcher, FrameSplitter } from "./stream.ts";
import { type BufferPool, hostBuffers } from "./buffer-pool.ts";
import { BodyFile, type FileIo } from "./body-file.ts";

/** A byte pipe pair as the runtime gives it. */
export interface BytePipe {
  /** `written` (optional) runs once the pipe has taken `bytes`, or failed to: they may be reused then. */
  write(bytes: Uint8Array, written?: () => void): void;
  onData(listener: (chunk: Uint8Array) => void): void;
  /**
   * Where writes the pipe could not take at once are queued (a child's non-blocking stdout):
   * undefined while it holds less than its limit of them, else resolves once it is back under.
   */
  room?(): Promise<void> | undefined;
  /** A file both sides hold open, for large bodies (body-file.ts); without it they cross the pipe. */
  file?: FileIo;
  /** Bytes written to the pipe that it has not taken yet (the other side is not reading them), where the runtime says. */
  unread?(): number;
  /** Stop reading: what the other side writes waits in the pipe (it blocks once the pipe is full). With `resume`: the host's end then reads in turns (FRAMES_PER_TURN). */
  pause?(): void;
  resume?(): void;
}

/**
 * The host's end: large bodies come from and go back to the host's buffer pool (buffer-pool.ts).
 * `maxFrame`: the largest frame the guest may send (what its instance may hold in memory).
 */
export function hostStreamEnd(pipe: BytePipe, schedule: Scheduler, maxFrame?: number): HostEnd {
  return streamEnd<GuestToHost, HostToGuest>(pipe, schedule, decodeGuestFrame, pipe.file && BodyFile.host(pipe.file), hostBuffers, maxFrame, guestFrameMax);
}

export function guestStreamEnd(pipe: BytePipe, schedule: Scheduler): GuestEnd {
  return streamEnd<HostToGuest, GuestToHost>(pipe, schedule, decodeHostFrame, pipe.file && BodyFile.guest(pipe.file));
}

/** A guest's control answers are refused past MAX_GUEST_RPC as their kind arrives, before the host keeps them (frames.ts). */
const guestFrameMax = (kind: number) => (kind === RPC_KIND ? MAX_GUEST_RPC : Number.POSITIVE_INFINITY);

/**
 * The host takes at most this many frames from one child before it yields to the rest of its
 * event loop (other children, clients), pausing the child's pipe until its next turn. A child
 * writes small frames faster than the host's one thread can decode them: one writing a million
 * pongs a second held another function of the same host at 58 req/s against 23,000
 * (../../adapters/README.md, Reading a child in turns).
 */
export const FRAMES_PER_TURN = 256;
/** ...and when they came within this long, it waits this long before it reads that child again (a turn alone did not do on Deno). */
export const TURN_MS = 1;

/** Bodies up to this size travel inside their frame; larger ones in a frame of their own after it. */
export const PIPE_INLINE_MAX = 64 * 1024;
/** How long a body waits for room in the file before it takes the pipe. */
export const ROOM_WAIT_MS = 100;
/** How often a waiting body looks for room again (it also does when a frame arrives). */
const ROOM_RETRY_MS = 1;

function streamEnd<In, Out extends Frame>(
  pipe: BytePipe,
  schedule: Scheduler,
  decode: Decoder<In>,
  file?: BodyFile,
  buffers?: BufferPool,
  maxFrame?: number,
  maxOf?: (kind: number) => number,
): ChannelEnd<In, Out> {
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
  // a host reads each child in turns: FRAMES_PER_TURN, then the rest of its event loop
  const turns = pipe.pause !== undefined && pipe.resume !== undefined;
  let yielding = false;
  let turnStart = 0;
  const splitter = new FrameSplitter(
    (bytes) => {
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
    },
    alloc,
    maxFrame,
    maxOf,
  );
  // a body that found its ring full and the frames after it: bodies as objects, frames as bytes
  const waiting: (Uint8Array | { body: Uint8Array })[] = [];
  let waitingSince = 0;
  /** Streams waiting for what waits here to be sent (ChannelEnd.room). */
  const roomWaits: (() => void)[] = [];
  const wakeRoom = () => {
    for (const wake of roomWaits.splice(0)) wake();
  };
  let retry: ReturnType<typeof setTimeout> | undefined;
  /** Sends `body` after its frame: false if it must wait for room (unless `now`). */
  const sendBody = (body: Uint8Array, now: boolean, lent = false): boolean => {
    // in the file, the body is written already: nothing holds it
    const ref = file ? file.put(body) : "pipe";
    if (ref === "full" && !now) return false;
    if (typeof ref !== "string") out.send(ref);
    // the pipe holds a body until it is written: a lent one (ChannelEnd.send) is copied first
    else if (!buffers) out.sendOwned(lent ? body.slice() : body);
    else {
      // a pooled body is not handed out again while the pipe may still be reading it
      buffers.writing(body);
      out.sendOwned(body, () => buffers.written(body));
    }
    return true;
  };
  const wait = (body: Uint8Array) => {
    if (waiting.length === 0) waitingSince = Date.now();
    buffers?.writing(body);
    waiting.push({ body });
  };
  /** Sends what waits, in order, up to a body that still finds no room (`all`: every one, the pipe where need be). */
  const sendWaiting = (all = false) => {
    while (waiting.length > 0) {
      const next = waiting[0]!;
      if (next instanceof Uint8Array) out.send(next);
      else if (sendBody(next.body, all || Date.now() - waitingSince >= ROOM_WAIT_MS)) {
        buffers?.written(next.body);
        waitingSince = Date.now();
      } else return retryLater();
      waiting.shift();
    }
    wakeRoom();
  };
  const retryLater = () => {
    retry ??= setTimeout(() => {
      retry = undefined;
      if (!closed) sendWaiting();
    }, ROOM_RETRY_MS);
  };
  const take = (more: () => void) => {
    try {
      more();
    } catch (e) {
      closed = true;
      broken.emit(e instanceof Error ? e : new Error(String(e)));
    }
    if (waiting.length > 0 && !closed) sendWaiting();
    if (!closed && splitter.spent && !yielding) {
      yielding = true;
      pipe.pause?.();
      // a child that sent its frames faster than FRAMES_PER_TURN a millisecond waits for a timer
      if (performance.now() - turnStart < TURN_MS) setTimeout(nextTurn, TURN_MS);
      else schedule(nextTurn);
    }
  };
  const nextTurn = () => {
    turnStart = performance.now();
    yielding = false;
    if (closed) return pipe.resume?.();
    take(() => splitter.more(FRAMES_PER_TURN));
    if (!yielding) pipe.resume?.();
  };
  if (turns) {
    turnStart = performance.now();
    splitter.more(FRAMES_PER_TURN);
  }
  pipe.onData((chunk) => {
    if (!closed) take(() => splitter.push(chunk));
  });
  return {
    send(frame, slot = 0, lent = false) {
      if (closed) return;
      taken = undefined;
      const head = encodeFrame(w, frame, takeLarge, slot);
      const body = taken as Uint8Array | undefined;
      // a body that waits is held past this call: a lent one (ChannelEnd.send) is copied
      if (waiting.length > 0) {
        waiting.push(head.slice()); // `w` is used again
        if (body) wait(lent ? body.slice() : body);
        return;
      }
      out.send(head);
      if (body && !sendBody(body, false, lent)) {
        wait(lent ? body.slice() : body);
        retryLater();
      }
    },
    // frames that wait behind a body (its ring full) are copies held here, then the pipe's
    room: () => (waiting.length === 0 ? pipe.room?.() : new Promise<void>((r) => roomWaits.push(r)).then(() => pipe.room?.())),
    flush() {
      sendWaiting(true);
      out.flush();
    },
    drain() {
      // a pipe delivers everything before the child counts as gone ('close'); what waits for its turn is read now
      if (turns && !closed) take(() => splitter.more(Number.POSITIVE_INFINITY));
    },
    onFrame: (l) => frames.add(l),
    onBroken: (l) => broken.add(l),
    unread: () => pipe.unread?.() ?? 0,
    close() {
      closed = true;
      clearTimeout(retry);
      for (const next of waiting.splice(0)) if (!(next instanceof Uint8Array)) buffers?.written(next.body);
      wakeRoom();
    },
  };
}
