/**
 * What a guest's fast Response readers (undici-response.ts, deno-response.ts) take from a
 * Response without its stream, and its headers listed as a Headers object iterates them (Fetch
 * standard, "sort and combine"): names in lower case, sorted, the values of a repeated name
 * joined with ", " in order, each `set-cookie` kept apart, and every value stripped of leading
 * and trailing spaces and tabs. Building a Headers object to list them cost 1-4 µs a response;
 * the differential suite compares what the readers send with the platform's own iteration.
 */
import type { HeaderPairs } from "../runtime/channel/frames.ts";

export interface ResponseParts {
  status: number;
  statusText: string;
  headers: HeaderPairs;
  body: Uint8Array | null;
}

const EDGE_SPACE = /^[\t ]+|[\t ]+$/g;

export function iteratedHeaders(list: readonly (readonly [string, string])[]): HeaderPairs {
  const out: HeaderPairs = [];
  for (const [name, value] of list) out.push([name.toLowerCase(), value.includes(" ") || value.includes("\t") ? value.replace(EDGE_SPACE, "") : value]);
  if (out.length < 2) return out;
  out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); // stable: repeated names keep their order
  const merged: HeaderPairs = [out[0]!];
  for (let i = 1; i < out.length; i++) {
    const p = out[i]!;
    const last = merged[merged.length - 1]!;
    if (last[0] === p[0] && p[0] !== "set-cookie") last[1] = `${last[1]}, ${p[1]}`;
    else merged.push(p);
  }
  return merged;
}

const encoder = new TextEncoder();
/** Longer strings go to the encoder: the loop's gain is the call it saves, not the copy. */
const SHORT_BODY = 64;

/**
 * A body string's UTF-8 bytes, for Node guests. Node's `TextEncoder.encode` costs 0.86-0.90 µs
 * even for a 19-character string (a call into C++ and an array with its own backing store);
 * copying a short ASCII string code unit by code unit into an array V8 keeps on its heap costs
 * 0.09-0.26 µs (1e6 calls, Node 20.20.2). Anything else is the encoder's, so the bytes are the
 * same. Not for Bun and Deno guests: Bun's encoder costs 0.05 µs either way, and on Deno the
 * loop is the slower (1.3-1.8 against 1.0-1.2 µs).
 */
export function nodeBodyBytes(s: string): Uint8Array {
  const n = s.length;
  if (n > SHORT_BODY) return encoder.encode(s);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return encoder.encode(s);
    out[i] = c;
  }
  return out;
}
