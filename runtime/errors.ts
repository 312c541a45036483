/**
 * The one error type of lanes. Every failure carries a string code; the code alone decides
 * the HTTP status (see `httpStatus`) so the mapping lives in exactly one place.
 */
import type { Reply } from "../adapters/types.ts";
import type { HeaderPairs } from "./channel/frames.ts";
export type ErrorCode =
  // request outcomes, sent to clients as JSON
  | "not_found"
  | "method_not_allowed"
  | "payload_too_large"
  | "function_error"
  | "instance_crashed"
  | "overloaded"
  | "unavailable"
  | "timeout"
  | "request_timeout"
  | "not_implemented"
  | "bad_request"
  | "internal"
  // the client went away before its answer: what the request log shows (no one receives it)
  | "client_gone"
  // the admin API
  | "unauthorized"
  // the console: a state-changing request from another site, or without saying where it comes from
  | "forbidden"
  | "rate_limited"
  | "conflict"
  // the deploy store has no space left for a write (etcd's quota): 507 Insufficient Storage
  | "store_full"
  | "invalid_upload"
  | "load_failed"
  | "missing_secret"
  // user errors reported by the CLI
  | "invalid_manifest"
  | "invalid_flag"
  | "port_in_use"
  // --host is no address of this machine, or a name that does not resolve
  | "cannot_listen"
  | "compile_failed"
  | "sandbox_unavailable"
  | "unsafe_cache"
  | "secrets_locked";

const httpStatus: Record<ErrorCode, number> = {
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  function_error: 500,
  instance_crashed: 502,
  overloaded: 503,
  unavailable: 503,
  timeout: 504,
  request_timeout: 408,
  not_implemented: 501,
  bad_request: 400,
  internal: 500,
  client_gone: 499,
  unauthorized: 401,
  forbidden: 403,
  rate_limited: 429,
  conflict: 409,
  store_full: 507,
  invalid_upload: 400,
  load_failed: 400,
  missing_secret: 400,
  // a manifest reaches HTTP only in an upload, where it is the client's input
  invalid_manifest: 400,
  invalid_flag: 500,
  port_in_use: 500,
  cannot_listen: 500,
  compile_failed: 503,
  sandbox_unavailable: 500,
  unsafe_cache: 500,
  // the deploy store holds secrets this host's key cannot open: it does not start
  secrets_locked: 500,
};

export class LanesError extends Error {
  override readonly name = "LanesError";
  readonly code: ErrorCode;
  /** Extra response headers (e.g. `Retry-After`, `Allow`). */
  readonly headers: Record<string, string>;
  /** A stack from inside the function, shown only by `lanes dev`. */
  readonly guestStack: string | undefined;

  constructor(code: ErrorCode, message: string, opts: { headers?: Record<string, string>; guestStack?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.code = code;
    this.headers = opts.headers ?? {};
    this.guestStack = opts.guestStack;
  }

  get status(): number {
    return httpStatus[this.code];
  }
}

export function isLanesError(e: unknown): e is LanesError {
  return e instanceof LanesError;
}

/** Why a request failed, as the JSON body every runtime-made error answer carries. */
function errorBody(e: LanesError, requestId: string, dev: boolean): string {
  const body: { code: string; message: string; requestId: string; stack?: string } = {
    code: e.code,
    message: e.message,
    requestId,
  };
  if (dev && e.guestStack) body.stack = e.guestStack;
  return JSON.stringify({ error: body });
}

function asLanesError(err: unknown): LanesError {
  return isLanesError(err) ? err : new LanesError("internal", "internal error", { cause: err });
}

const JSON_TYPE = "application/json; charset=utf-8";
const encoder = new TextEncoder();

/** A runtime-made error as a Reply (what the host's request path writes, no web objects). */
export function errorReply(err: unknown, requestId: string, dev = false): Reply {
  const e = asLanesError(err);
  const headers: HeaderPairs = [["content-type", JSON_TYPE]];
  for (const k in e.headers) headers.push([k, e.headers[k]!]);
  headers.push(["x-request-id", requestId]);
  return { status: e.status, statusText: "", headers, body: encoder.encode(errorBody(e, requestId, dev)) };
}

/** The same error as a web Response (for lanes' own Hono routes). */
export function errorResponse(err: unknown, requestId: string, dev = false): Response {
  const e = asLanesError(err);
  return new Response(errorBody(e, requestId, dev), {
    status: e.status,
    headers: { "content-type": JSON_TYPE, ...e.headers, "x-request-id": requestId },
  });
}
