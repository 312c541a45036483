/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): a request's `traceparent` is kept
 * when it is valid, or a new trace is started; the function gets it in its request headers and
 * as `ctx.traceparent`, and the access log names it. When the host exports spans (otel.ts), the
 * parent-id the function sees is the host's own span, so the function's spans hang under it.
 */
import type { HeaderPairs } from "../channel/frames.ts";

export interface Trace {
  traceId: string;
  /** The span the function's work belongs under: the caller's, or the host's when it exports spans. */
  parentId: string;
  /** "01": sampled. */
  flags: string;
  /** The caller's span, when the trace came with the request. */
  callerSpanId?: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/** The trace in a traceparent value, or undefined when the value is not a valid one. */
export function parseTraceparent(value: string): Trace | undefined {
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === "ff" || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  // version 00 has exactly four fields; a later version may append more (the spec's rule)
  if (version === "00" && rest !== undefined) return undefined;
  return { traceId: traceId!, parentId: spanId!, flags: flags!, callerSpanId: spanId! };
}

export function formatTraceparent(t: Trace): string {
  return `00-${t.traceId}-${t.parentId}-${t.flags}`;
}

/** A new trace. `requestId` is a random UUID: its 32 hex digits make a random trace id. */
export function startTrace(requestId: string, sampled: boolean): Trace {
  return { traceId: uuidHex(requestId), parentId: randomSpanId(), flags: sampled ? "01" : "00" };
}

/** A UUID's 32 hex digits (8-4-4-4-12). Slices, not a regular-expression replace: 0.10 against 0.23 µs on Node, 0.003 against 0.08 µs on Bun (measured, 2e6 calls). */
function uuidHex(id: string): string {
  return id.length === 36 ? id.slice(0, 8) + id.slice(9, 13) + id.slice(14, 18) + id.slice(19, 23) + id.slice(24) : id.replace(/-/g, "");
}

/**
 * Find the request's traceparent among its header pairs and make sure the function gets one valid
 * value: kept when valid, replaced by a new trace when not, added when absent. Sent twice it is
 * invalid (the spec's rule; the function's Headers would join both into one value no parser
 * takes), and a later version than 00 is passed on as 00, the version this host speaks, as the
 * access log names it. Edits `pairs` in place (the server builds a fresh list per request).
 */
export function traceRequest(pairs: HeaderPairs, requestId: string, sampled: boolean, ownSpan: boolean): Trace {
  let at = -1;
  let twice = false;
  for (let i = 0; i < pairs.length; i++) {
    const name = pairs[i]![0];
    if (name.length !== 11 || name.toLowerCase() !== "traceparent") continue;
    if (at < 0) at = i;
    else {
      twice = true;
      pairs.splice(i--, 1);
    }
  }
  const incoming = at >= 0 && !twice ? parseTraceparent(pairs[at]![1]) : undefined;
  const trace = incoming ?? startTrace(requestId, sampled);
  // the host's span becomes the function's parent when the host exports spans
  if (incoming && ownSpan) trace.parentId = randomSpanId();
  const value = formatTraceparent(trace);
  if (incoming && !ownSpan && pairs[at]![1] === value) return trace; // passed on as it came
  if (at >= 0) pairs[at] = ["traceparent", value];
  else pairs.push(["traceparent", value]);
  return trace;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const pool = new Uint8Array(4096);
let used = pool.length;

/** 16 hex digits, random and never all zero; random bytes drawn 4 KiB at a time. */
export function randomSpanId(): string {
  if (used + 8 > pool.length) {
    crypto.getRandomValues(pool);
    used = 0;
  }
  let s = "";
  for (let i = 0; i < 8; i++) s += HEX[pool[used++]!];
  return s === ZERO_SPAN ? randomSpanId() : s;
}
