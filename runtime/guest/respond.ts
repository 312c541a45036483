/**
 * Sends a Response back to the host (when `readAtOnce` cannot read it directly). Bytes that are already available go out with the head in
 * one frame (the common case: one message per request). When the body produces slowly, the
 * rest follows as chunk frames as it is produced, so streams reach the client live.
 */
import { chunkBytes, lightParts, takeWholeBody } from "../../adapters/guest.ts";
import type { ResponseParts } from "../../adapters/response-parts.ts";
import { headerPairs, type HeaderPairs } from "../channel/frames.ts";
import type { SendWindow } from "./send-window.ts";
import { asError } from "./as-error.ts";

export interface ResponseSink {
  /**
   * `body` is the sink's to keep (the caller never touches it again) unless `lent`: then, as each
   * chunk is, it is a chunk of the function's stream, still the function's, which may keep it
   * and read or write it again (a platform's server never detaches it). The channel end copies a
   * lent body only where it would move it or hold on to it (ChannelEnd.send).
   */
  head(status: number, statusText: string, headers: HeaderPairs, body: Uint8Array | null, more: boolean, lent?: boolean): void;
  chunk(body: Uint8Array): void;
  /** Undefined while the channel takes more at once, else resolves once it does (ChannelEnd.room). */
  room?(): Promise<void> | undefined;
  /** `error` (even "", a message-less Error's) says the stream failed: the client's body is cut, not ended as if whole. */
  end(error?: string): void;
}

const PENDING = Symbol("pending");
/** Resolves after a few microtask hops: in-memory bodies finish reading well before that. */
function soon(): Promise<typeof PENDING> {
  let p: Promise<typeof PENDING> = Promise.resolve(PENDING);
  for (let i = 0; i < 8; i++) p = p.then((x) => x);
  return p;
}

type Read = ReadableStreamReadResult<Uint8Array>;
/** The most of a stream's first chunks sent with the head. */
const FIRST_BATCH_MAX = 256 * 1024;
/** Statuses whose responses have no body (Fetch standard). Bun lets a Response have one anyway. */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/**
 * The Response's status line, headers and whole body, read from the platform's state without its
 * stream (Node, Deno: adapters/guest.ts, lightParts), else undefined: the guest then sends it
 * with `sendResponse`.
 */
export function readAtOnce(res: Response): ResponseParts | undefined {
  const light = lightParts(res);
  return light && NULL_BODY_STATUS.has(light.status) ? { ...light, body: null } : light;
}

/** `window`: the stream is read no further ahead of the client than it allows (channel/window.ts). */
export async function sendResponse(res: Response, sink: ResponseSink, onCancel: (cancel: () => void) => void, window?: SendWindow) {
  const headers = headerPairs(res.headers);
  const taken = NULL_BODY_STATUS.has(res.status) ? undefined : takeWholeBody(res);
  if (taken !== undefined) {
    const whole = taken instanceof Promise ? await taken : taken;
    sink.head(res.status, res.statusText, headers, whole && whole.byteLength > 0 ? whole : null, false);
    return;
  }
  if (!res.body || NULL_BODY_STATUS.has(res.status)) {
    sink.head(res.status, res.statusText, headers, null, false);
    void res.body?.cancel().catch(() => {});
    return;
  }
  const reader = res.body.getReader();
  onCancel(() => void reader.cancel().catch(() => {}));
  const ready: Uint8Array[] = [];
  let pending: Promise<Read> | undefined;
  let done = false;
  let readyBytes = 0;
  // a stream that fails here, before anything was sent, throws to the caller: a function error
  for (;;) {
    const read = reader.read();
    const r = await Promise.race([read, soon()]);
    if (r === PENDING) {
      pending = read;
      break;
    }
    if (r.done) {
      done = true;
      break;
    }
    ready.push(chunkBytes(r.value));
    // a stream that always has a chunk ready (its pull enqueues at once) would never let the
    // head go: past this much, the head goes with what is here and the rest follows as chunks
    if ((readyBytes += ready[ready.length - 1]!.byteLength) >= FIRST_BATCH_MAX) break;
  }
  try {
    const first = concat(ready);
    window?.sent(first?.byteLength ?? 0);
    sink.head(res.status, res.statusText, headers, first, !done, ready.length === 1);
  } catch (e) {
    void reader.cancel().catch(() => {}); // a head no frame carries (codec.ts): the function's error
    throw e;
  }
  if (done) return;
  try {
    for (;;) {
      const r = await (pending ?? reader.read());
      pending = undefined;
      if (r.done) break;
      const bytes = chunkBytes(r.value);
      if (bytes.byteLength === 0) continue;
      window?.sent(bytes.byteLength);
      sink.chunk(bytes);
      // the next read waits while a window's worth is on its way to the client
      const room = window?.room();
      if (room) await room;
      // and while the channel holds its limit of bytes it could not write yet: every stream's
      // window may be open at once (a bun child held 50 x 2 MiB queued, in 2x their size of
      // batch buffers, and was stopped for it: ../../adapters/README.md, Child processes)
      const pipe = sink.room?.();
      if (pipe) await pipe;
    }
    sink.end();
  } catch (e) {
    sink.end(asError(e).message);
  }
}

/**
 * Sends what `end` batched once the microtasks queued so far have run: an answer then leaves
 * before any more of the function's code runs, not at the end of the turn's batch, behind the
 * function's own immediates and timers (a Bun guest runs timers due by then first). A function
 * that answered and then started a CPU loop there kept its answer until the host timed it out
 * (../../adapters/README.md, Channel).
 */
export function flushSoon(end: { flush(): void }): () => void {
  let queued = false;
  const flush = () => {
    queued = false;
    end.flush();
  };
  return () => {
    if (queued) return;
    queued = true;
    queueMicrotask(flush);
  };
}

/** One chunk as it is (still the function's: ResponseSink), more joined into an array of their own. */
function concat(parts: Uint8Array[]): Uint8Array | null {
  if (parts.length === 0) return null;
  if (parts.length === 1) return parts[0]!;
  let size = 0;
  for (const p of parts) size += p.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
