/**
 * Frames as bytes, the same on both lanes' transports. A frame is `[kind u8][slot u16][flags u8]`
 * then its fields (the slot: which function on the other side, frames.ts); bodies are raw bytes
 * (no base64, no JSON). Decoding checks everything it reads: a truncated frame, an unknown kind,
 * a frame going the wrong way or a value out of range is a `badFrame` error, never a half-read object.
 *
 * A body may travel *beside* the frame (flag EXTERNAL): a worker's large bodies are
 * transferred as ArrayBuffers instead of being copied through the ring. The transport supplies
 * them in order (`Externals`).
 */
import { LanesError } from "../errors.ts";
import { badFrame, ByteReader, type ByteWriter, type CopyOut, one, two } from "./bytes.ts";
import { LOG_LEVELS, MAX_GUEST_RPC, MAX_HEADERS, SHARED_OPS, type Frame, type GuestToHost, type HeaderPairs, type HostToGuest, type LogLevel, type SharedOp } from "./frames.ts";

const KIND = {
  req: 1,
  cancel: 2,
  res: 3,
  chunk: 4,
  end: 5,
  err: 6,
  log: 7,
  ping: 8,
  pong: 9,
  fatal: 10,
  ready: 11,
  rpc: 12,
  shared: 13,
  "shared-reply": 14,
  ack: 15,
} as const satisfies Record<Frame["t"], number>;

/** The kind byte of an rpc frame (a frame's first). */
export const RPC_KIND = KIND.rpc;
const HOST_KINDS = new Set<number>([KIND.req, KIND.cancel, KIND.ack, KIND.ping, KIND.rpc, KIND["shared-reply"]]);

const INLINE = 1;
const EXTERNAL = 2;
const MORE = 4;
const OPTIONAL = 8; // the frame's optional string (end.error, log.requestId, reply.error) is present
const NUMBER = 16; // shared values: a number rather than a string
const NULL = 32; // shared-reply: the value is null

/** Where bodies go when they travel beside the frame. */
export interface Externals {
  /** Encoding: whether this body should travel beside the frame (and take it if so). */
  take?(body: Uint8Array): boolean;
  /** Decoding: the next body that travelled beside a frame, in order. */
  next?(): Uint8Array | undefined;
}

export function encodeFrame(w: ByteWriter, f: Frame, ext?: Externals, slot = 0): Uint8Array {
  if ((f.t === "req" || f.t === "res") && f.headers.length > MAX_HEADERS) {
    const what = f.t === "res" ? "answer" : "request";
    throw new LanesError(f.t === "res" ? "function_error" : "bad_request", `the ${what} has ${f.headers.length} headers: at most ${MAX_HEADERS} cross a lane`);
  }
  w.reset();
  w.u8(KIND[f.t]);
  w.u16(slot);
  switch (f.t) {
    case "req": {
      const flags = bodyFlag(f.body, ext);
      w.u8(flags);
      w.u32(f.id);
      const strings = [f.requestId, f.method, f.url];
      for (const [k, v] of f.headers) strings.push(k, v);
      for (const k in f.params) strings.push(k, f.params[k]!);
      w.u16(f.headers.length);
      w.strings(strings);
      if (flags & INLINE) w.bytesField(f.body!);
      break;
    }
    case "res": {
      const flags = bodyFlag(f.body, ext) | (f.more ? MORE : 0);
      w.u8(flags);
      w.u32(f.id);
      w.u16(f.status);
      const strings = [f.statusText];
      for (const [k, v] of f.headers) strings.push(k, v);
      w.strings(strings);
      if (flags & INLINE) w.bytesField(f.body!);
      break;
    }
    case "chunk": {
      const flags = bodyFlag(f.body, ext);
      w.u8(flags);
      w.u32(f.id);
      if (flags & INLINE) w.bytesField(f.body);
      break;
    }
    case "end":
      w.u8(f.error === undefined ? 0 : OPTIONAL);
      w.u32(f.id);
      if (f.error !== undefined) w.strings([f.error]);
      break;
    case "err":
      w.u8(0);
      w.u32(f.id);
      w.strings([f.message, f.stack]);
      break;
    case "log":
      w.u8(f.requestId === undefined ? 0 : OPTIONAL);
      w.u8(LOG_LEVELS.indexOf(f.level));
      w.strings(f.requestId === undefined ? [f.text] : [f.text, f.requestId]);
      break;
    case "cancel":
    case "ack":
    case "ping":
      w.u8(0);
      w.u32(f.id);
      break;
    case "pong":
      w.u8(0);
      w.u32(f.id);
      w.f64(f.heap);
      w.f64(f.external);
      break;
    case "fatal":
      w.u8(0);
      w.strings([f.message, f.stack]);
      break;
    case "ready":
      w.u8(0);
      break;
    case "rpc":
      w.u8(0);
      w.strings([f.json]);
      break;
    case "shared": {
      const isNumber = typeof f.value === "number";
      w.u8((f.value === undefined ? 0 : OPTIONAL) | (isNumber ? NUMBER : 0));
      w.u32(f.id);
      w.u8(SHARED_OPS.indexOf(f.op));
      if (isNumber) {
        w.f64(f.value as number);
        w.strings([f.key]);
      } else w.strings(f.value === undefined ? [f.key] : [f.key, f.value as string]);
      break;
    }
    case "shared-reply": {
      const v = f.value;
      const flags = (f.error === undefined ? 0 : OPTIONAL) | (typeof v === "number" ? NUMBER : 0) | (v === null ? NULL : 0);
      w.u8(flags);
      w.u32(f.id);
      if (typeof v === "number") w.f64(v);
      const strings: string[] = [typeof v === "string" ? v : ""];
      if (f.error !== undefined) strings.push(f.error, f.code ?? "");
      w.strings(strings);
      break;
    }
  }
  return w.bytes();
}

function bodyFlag(body: Uint8Array | null, ext: Externals | undefined): number {
  if (body === null) return 0;
  return ext?.take?.(body) ? EXTERNAL : INLINE;
}

/** Whether the frame in these bytes carries a body that travels beside it. */
export function hasExternalBody(bytes: Uint8Array): boolean {
  return bytes.byteLength > 3 && (bytes[3]! & EXTERNAL) !== 0;
}

/** The slot the frame in these bytes is addressed to (0 when too short: decoding refuses it). */
export const frameSlot = (bytes: Uint8Array): number => (bytes.byteLength > 3 ? (bytes[1]! << 8) | bytes[2]! : 0);
/** The most slots a guest can hold: the slot is a u16 in every frame. */
export const MAX_SLOT = 0xffff;

/** A frame the guest sent, as the host reads it. */
export function decodeGuestFrame(bytes: Uint8Array, copy: false | CopyOut, ext?: Externals): GuestToHost {
  const kind = bytes[0];
  if (kind === undefined || (HOST_KINDS.has(kind) && kind !== KIND.rpc)) throw badFrame(`kind ${kind} does not go guest to host`);
  if (kind === KIND.rpc && bytes.byteLength > MAX_GUEST_RPC) throw badFrame(`a control answer of ${bytes.byteLength} bytes, over the ${MAX_GUEST_RPC} a guest may send`);
  return decode(bytes, copy, ext) as GuestToHost;
}

/** A frame the host sent, as the guest reads it. */
export function decodeHostFrame(bytes: Uint8Array, copy: false | CopyOut, ext?: Externals): HostToGuest {
  const kind = bytes[0];
  if (kind === undefined || !HOST_KINDS.has(kind)) throw badFrame(`kind ${kind} does not go host to guest`);
  return decode(bytes, copy, ext) as HostToGuest;
}

/** A frame's body: inline, beside it (`ext`), or none. */
function frameBody(r: ByteReader, flags: number, ext: Externals | undefined): Uint8Array | null {
  if (flags & INLINE) return r.bytesField();
  if (flags & EXTERNAL) {
    const b = ext?.next?.();
    if (!b) throw badFrame("a body that travels beside the frame is missing");
    return b;
  }
  return null;
}

function decode(bytes: Uint8Array, copy: false | CopyOut, ext: Externals | undefined): Frame {
  const r = new ByteReader(bytes, copy);
  const kind = r.u8();
  r.u16(); // the slot: frameSlot() reads it
  const flags = r.u8();
  // frameBody is not a closure: one made per frame costs a Node host (run through tsx, which
  // keeps function names) a call that names it, 2% of the host's thread in a profile
  let f: Frame;
  switch (kind) {
    case KIND.req: {
      const id = r.u32();
      const nHeaders = r.u16();
      const s = r.strings();
      if (s.length < 3 + 2 * nHeaders || (s.length - 3) % 2 !== 0) throw badFrame("request strings");
      const headers: HeaderPairs = [];
      let i = 3;
      for (; i < 3 + 2 * nHeaders; i += 2) headers.push([s[i]!, s[i + 1]!]);
      const params: Record<string, string> = {};
      for (; i < s.length; i += 2) params[s[i]!] = s[i + 1]!;
      f = { t: "req", id, requestId: s[0]!, method: s[1]!, url: s[2]!, headers, params, body: frameBody(r, flags, ext) };
      break;
    }
    case KIND.res: {
      const id = r.u32();
      const status = r.u16();
      const s = r.strings();
      if (s.length % 2 !== 1) throw badFrame("response strings");
      const headers: HeaderPairs = [];
      for (let i = 1; i < s.length; i += 2) headers.push([s[i]!, s[i + 1]!]);
      f = { t: "res", id, status, statusText: s[0]!, headers, body: frameBody(r, flags, ext), more: (flags & MORE) !== 0 };
      break;
    }
    case KIND.chunk: {
      const id = r.u32();
      const b = frameBody(r, flags, ext);
      if (!b) throw badFrame("a chunk without bytes");
      f = { t: "chunk", id, body: b };
      break;
    }
    case KIND.end: {
      const id = r.u32();
      f = flags & OPTIONAL ? { t: "end", id, error: one(r.strings()) } : { t: "end", id };
      break;
    }
    case KIND.err: {
      const id = r.u32();
      const [message, stack] = two(r.strings());
      f = { t: "err", id, message, stack };
      break;
    }
    case KIND.log: {
      const level = LOG_LEVELS[r.u8()] as LogLevel | undefined;
      if (!level) throw badFrame("log level");
      const s = r.strings();
      f = flags & OPTIONAL ? { t: "log", level, text: s[0] ?? "", requestId: s[1] ?? "" } : { t: "log", level, text: one(s) };
      break;
    }
    case KIND.cancel:
    case KIND.ack:
    case KIND.ping:
      f = { t: kind === KIND.cancel ? "cancel" : kind === KIND.ack ? "ack" : "ping", id: r.u32() };
      break;
    case KIND.pong:
      f = { t: "pong", id: r.u32(), heap: r.f64(), external: r.f64() };
      break;
    case KIND.fatal: {
      const [message, stack] = two(r.strings());
      f = { t: "fatal", message, stack };
      break;
    }
    case KIND.ready:
      f = { t: "ready" };
      break;
    case KIND.rpc:
      f = { t: "rpc", json: one(r.strings()) };
      break;
    case KIND.shared: {
      const id = r.u32();
      const op = SHARED_OPS[r.u8()] as SharedOp | undefined;
      if (!op) throw badFrame("shared op");
      const num = flags & NUMBER ? r.f64() : undefined;
      const s = r.strings();
      const key = s[0] ?? "";
      f = num !== undefined ? { t: "shared", id, op, key, value: num } : s.length > 1 ? { t: "shared", id, op, key, value: s[1]! } : { t: "shared", id, op, key };
      break;
    }
    case KIND["shared-reply"]: {
      const id = r.u32();
      const num = flags & NUMBER ? r.f64() : undefined;
      const s = r.strings();
      const value = flags & NULL ? null : num !== undefined ? num : (s[0] ?? "");
      f = flags & OPTIONAL ? { t: "shared-reply", id, value, error: s[1] ?? "", code: s[2] ?? "" } : { t: "shared-reply", id, value };
      break;
    }
    default:
      throw badFrame(`unknown kind ${kind}`);
  }
  if (!r.done) throw badFrame(`trailing bytes after a ${f.t} frame`);
  return f;
}
