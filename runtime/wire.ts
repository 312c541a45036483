/**
 * The wire protocol between the host and a guest (a worker thread or a child process). Both
 * lanes use the same frames; only the body encoding differs: workers receive ArrayBuffers
 * (transferred, not copied), children receive base64 strings over JSON IPC (see
 * adapters/frame-codec.ts). Frames hold only plain values: Node and Deno silently turn a
 * posted Request/Response/Headers into `{}` (runtime-matrix P5).
 */
export type Headers2 = [string, string][];
export type Body = ArrayBuffer | null;

/** Host → guest: handle a request. */
export interface RequestFrame {
  t: "req";
  id: number;
  requestId: string;
  method: string;
  url: string;
  headers: Headers2;
  body: Body;
  params: Record<string, string>;
}

/** Host → guest: the client went away or the deadline passed; stop producing this response. */
export interface CancelFrame {
  t: "cancel";
  id: number;
}

/** Guest → host: the response head and what body was ready; `more` means chunk frames follow. */
export interface ResponseFrame {
  t: "res";
  id: number;
  status: number;
  statusText: string;
  headers: Headers2;
  body: Body;
  more: boolean;
}

export interface ChunkFrame {
  t: "chunk";
  id: number;
  body: ArrayBuffer;
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

/** Guest → host: a line of the function's console output. */
export interface LogFrame {
  t: "log";
  level: "log" | "info" | "warn" | "error" | "debug";
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
export interface PongFrame {
  t: "pong";
  id: number;
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

/** Either way: a comlink message for the control API (load, stats, drain). */
export interface RpcFrame {
  t: "rpc";
  m: unknown;
}

/** Guest → host: a ctx.shared call from a process-lane guest. Host → guest: its answer. */
export interface SharedCallFrame {
  t: "shared";
  id: number;
  op: "add" | "get" | "set";
  key: string;
  value?: string | number;
}
export interface SharedReplyFrame {
  t: "shared-reply";
  id: number;
  value?: string | number | null;
  error?: string;
  /** SharedStoreError code (shared_full, shared_type, shared_key, shared_busy). */
  code?: string;
}

export type HostToGuest = RequestFrame | CancelFrame | PingFrame | RpcFrame | SharedReplyFrame;
export type GuestToHost =
  | ResponseFrame
  | ChunkFrame
  | EndFrame
  | ErrorFrame
  | LogFrame
  | ReadyFrame
  | PongFrame
  | FatalFrame
  | RpcFrame
  | SharedCallFrame;
export type Frame = HostToGuest | GuestToHost;

/** Frames whose `body` field carries bytes (encoded as base64 on JSON transports). */
export function hasBody(f: Frame): f is RequestFrame | ResponseFrame | ChunkFrame {
  return f.t === "req" || f.t === "res" || f.t === "chunk";
}

/** What the guest learns about its function through the `load` control call. */
export interface LoadSpec {
  name: string;
  lane: "isolate" | "process";
  /** file:// URL of the compiled ESM bundle. */
  bundleUrl: string;
  env: Record<string, string>;
  dev: boolean;
}

/** The control API a guest exposes over comlink. */
export interface GuestControl {
  load(spec: LoadSpec): Promise<void>;
  stats(): Promise<GuestStats>;
  /** Resolves when no request and no waitUntil promise is pending. */
  drain(): Promise<void>;
}

export interface GuestStats {
  inflight: number;
  handled: number;
  heapUsed: number;
  /** Request ids of the ctx.waitUntil promises still pending, one per promise. */
  waitUntil: string[];
}
