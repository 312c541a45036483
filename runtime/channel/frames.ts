/**
 * Every message between the host and a guest (a worker thread or a child process), in both
 * lanes. Frames are plain values and bytes: Node and Deno silently turn a posted
 * Request/Response/Headers into `{}` (../../adapters/README.md, Messages). `codec.ts` turns them into
 * bytes and back; the same bytes cross a SharedArrayBuffer ring (isolate lane) or a pipe
 * (process lane).
 *
 * Every frame is addressed to a *slot* of the guest, beside the frame (`ChannelEnd.send(frame,
 * slot)`): slot 0 is the guest itself, and the only one an unpacked guest has; a packed worker
 * holds one function per slot from 1, and its slot 0 is the worker's own (control, liveness).
 * Request ids, ping ids and control calls are per slot.
 */
export type HeaderPairs = [string, string][];

/**
 * A Headers' pairs, as its iterator gives them (sorted, combined, each set-cookie apart), read
 * with `forEach`, which takes the list once: Deno's iterator sorts and combines the whole list
 * again for every pair it yields, so `[...headers]` of 8,000 headers took 5.7 s on Deno 2.9.6
 * against 23 ms (https://github.com/denoland/deno/pull/36063).
 */
export function headerPairs(headers: Headers): HeaderPairs {
  const pairs: HeaderPairs = [];
  headers.forEach((value, name) => {
    pairs.push([name, value]);
  });
  return pairs;
}

/**
 * The most headers a request or an answer carries across a lane: a frame's strings are one
 * block of at most 65,535 (bytes.ts), a header two of them. Encoding refuses more (codec.ts): an
 * answer with more is the function's error, refused in the guest, and its instance serves on. No
 * request has as many: Node 20 passes a handler at most about a thousand and answers 431 past 16
 * KiB of head, Bun's node:http 431 past 200 lines, Deno.serve 400 past 128 (measured, Node
 * 20.20.2, Bun 1.4.5, Deno 2.9.6); one would be a 400.
 */
export const MAX_HEADERS = 32_000;

/** Host → guest: handle a request. */
export interface RequestFrame {
  t: "req";
  id: number;
  requestId: string;
  method: string;
  url: string;
  headers: HeaderPairs;
  params: Record<string, string>;
  body: Uint8Array | null;
}

/** Host → guest: the client went away or the deadline passed; stop producing this response. */
export interface CancelFrame {
  t: "cancel";
  id: number;
}

/**
 * Host → guest: the server took ACK_BYTES more of this response's streamed body on to the
 * client's connection; the guest may send that much more (window.ts).
 */
export interface AckFrame {
  t: "ack";
  id: number;
}

/** Guest → host: the response head and what body was ready; `more` means chunk frames follow. */
export interface ResponseFrame {
  t: "res";
  id: number;
  status: number;
  statusText: string;
  headers: HeaderPairs;
  body: Uint8Array | null;
  more: boolean;
}

export interface ChunkFrame {
  t: "chunk";
  id: number;
  body: Uint8Array;
}

export interface EndFrame {
  t: "end";
  id: number;
  /** Set when the body stream failed after the head was sent. */
  error?: string;
}

/** Guest → host: the function threw, rejected, or returned something that is not a Response. */
export interface ErrorFrame {
  t: "err";
  id: number;
  message: string;
  stack: string;
}

export const LOG_LEVELS = ["log", "info", "warn", "error", "debug", "dropped"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Guest → host: a line of the function's console output. Level `dropped`: the guest drops lines
 * over its budget (../guest/console-capture.ts), and `text` is "0" as it starts to in a second,
 * then how many it dropped in that second, once it is over.
 */
export interface LogFrame {
  t: "log";
  level: LogLevel;
  text: string;
  requestId?: string;
}

/**
 * Host → guest: are you alive? Sent once a request on the instance ran past its deadline: an
 * instance that answers is only waiting (a promise that never settles); one that does not is
 * stuck in a CPU loop and is stopped.
 */
export interface PingFrame {
  t: "ping";
  id: number;
}
/**
 * The id of a ping that asks the guest to collect its garbage before it measures its memory: the
 * memory watchdog judges an isolate over its limit only on such a reading (watchdog.ts).
 */
export const PING_COLLECT = 0xffffffff;
/** Guest → host: alive, and what its memory holds (the isolate lane's memory watchdog reads it). */
export interface PongFrame {
  t: "pong";
  id: number;
  /** Bytes of JS heap in use. */
  heap: number;
  /** Bytes outside the heap (ArrayBuffers): no heap limit counts them. */
  external: number;
}

/**
 * Guest → host: an exception nobody caught, outside any request (a throw in a timer). The guest
 * exits right after sending it; the host names the error in the 502s of the requests it cut.
 */
export interface FatalFrame {
  t: "fatal";
  message: string;
  stack: string;
}

/** Guest → host: the transport is up; control calls may start. */
export interface ReadyFrame {
  t: "ready";
}

/**
 * The largest control answer (rpc) a guest may send: comlink's are small (stats: 100,000 pending
 * waitUntil ids fit). Its JSON becomes objects on the host's thread, up to 8 times its size: a
 * child's 200 MiB array of ones held a Node host's thread for seconds and left it 1.6 GB larger.
 */
export const MAX_GUEST_RPC = 4 * 1024 * 1024;

/** Either way: a comlink message of the control API (load, stats, drain), as JSON text. */
export interface RpcFrame {
  t: "rpc";
  json: string;
}

export const SHARED_OPS = ["add", "get", "set"] as const;
export type SharedOp = (typeof SHARED_OPS)[number];

/** Guest → host: a ctx.shared call from a process-lane guest. */
export interface SharedCallFrame {
  t: "shared";
  id: number;
  op: SharedOp;
  key: string;
  /** add: the delta; set: the value. */
  value?: string | number;
}

/** Host → guest: the answer to a ctx.shared call. */
export interface SharedReplyFrame {
  t: "shared-reply";
  id: number;
  value?: string | number | null;
  error?: string;
  /** SharedStoreError code (shared_full, shared_type, shared_key, shared_busy). */
  code?: string;
}

export type HostToGuest = RequestFrame | CancelFrame | AckFrame | PingFrame | RpcFrame | SharedReplyFrame;
export type GuestToHost = ResponseFrame | ChunkFrame | EndFrame | ErrorFrame | LogFrame | ReadyFrame | PongFrame | FatalFrame | RpcFrame | SharedCallFrame;
export type Frame = HostToGuest | GuestToHost;
