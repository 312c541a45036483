/**
 * What a client must see, given the oracle's in-process outcome, and the comparison with what
 * it did see through lanes. "Must see" is what a correct HTTP/1.1 server sends for that
 * Response: its status, its status text in the status line (the standard reason phrase when it
 * has none), its header list, and its body (none for HEAD, 204 and 304). A function that threw
 * or returned something a server cannot send gets lanes' documented 500 function_error.
 */
import { Buffer } from "node:buffer";
import { STATUS_CODES } from "node:http";
import type { RuntimeName } from "../../../adapters/types.ts";
import type { Outcome } from "./outcome.ts";
import type { WireResponse } from "./raw-client.ts";

/**
 * Set by the server, not by the function: a function's own are not sent (runtime/pool/framing.ts),
 * and the server may add its own hop-by-hop ones (RFC 9110, 7.6.1).
 */
const NOT_COMPARED = new Set(["x-request-id", "date", "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"]);
const TEXT_DEFAULT = "text/plain;charset=UTF-8";

export interface Expected {
  status: number;
  /** Undefined: not comparable on this host (see `limitation`). */
  statusText?: string;
  headers: [string, string][];
  body: Uint8Array;
  cut: boolean;
  /** A function_error answer: its message instead of a body. */
  errorMessage?: string;
  /** Why part of this case is compared differently on this host, when it is. */
  limitation?: string;
}

export interface Where {
  /** The runtime that ran the function (the host's for the isolate lane, the child's otherwise). */
  runtime: RuntimeName;
  host: RuntimeName;
  lane?: "isolate" | "process";
  stringDefaultType?: boolean;
}

/** A case a lane genuinely cannot answer as the bare runtime does: why, and what it answers instead. */
export interface KnownDifference {
  why: string;
  check(got: WireResponse): string[];
}

export function knownDifference(caseName: string, where: Where): KnownDifference | undefined {
  if (caseName === "bad-redirect-url" && where.lane === "isolate" && where.runtime === "deno") {
    return {
      why:
        "in a Deno worker a relative URL resolves against the worker's module (a file: URL), where Deno's main thread has no " +
        'base URL and throws: Response.redirect("not a url") redirects instead of throwing',
      check(got) {
        const location = got.headers.find(([k]) => k === "location")?.[1] ?? "";
        return got.status === 302 && /^file:\/\/\/.*not%20a%20url$/.test(location)
          ? []
          : [`status ${got.status}, location ${JSON.stringify(location)}: expected a 302 to the worker-relative file: URL`];
      },
    };
  }
  return undefined;
}

export function expected(outcome: Outcome, method: string, where: Where): Expected {
  const fnError = (message: string): Expected => ({
    status: 500,
    statusText: STATUS_CODES[500],
    headers: [["content-type", "application/json; charset=utf-8"]],
    body: new Uint8Array(0),
    cut: false,
    errorMessage: `the function threw: ${message}`,
  });
  switch (outcome.kind) {
    case "threw":
      return fnError(outcome.message);
    case "not-response":
      return fnError(`the function returned ${outcome.what}, not a Response`);
    case "network-error":
      return fnError("the function returned Response.error(), a network error: it has no HTTP response to send");
    case "response":
      break;
  }
  const headers = outcome.headers.filter(([k]) => !NOT_COMPARED.has(k));
  if (where.runtime === "bun" && where.stringDefaultType && !headers.some(([k]) => k === "content-type")) {
    headers.push(["content-type", TEXT_DEFAULT]);
  }
  const noBody = method === "HEAD" || outcome.status === 204 || outcome.status === 304;
  const out: Expected = {
    status: outcome.status,
    statusText: outcome.statusText || STATUS_CODES[outcome.status],
    headers: normalize(headers),
    body: noBody ? new Uint8Array(0) : new Uint8Array(Buffer.from(outcome.body, "base64")),
    cut: !noBody && outcome.cut,
  };
  if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(outcome.statusText)) {
    // no correct server can send it; lanes sends the standard phrase instead
    out.statusText = STATUS_CODES[outcome.status];
    out.limitation = "Bun's Response accepts a status text with a line break, which no status line can carry: the standard reason phrase is sent";
  } else if (where.host === "bun" && /[\x80-\xff]/.test(outcome.statusText)) {
    // exactly the bytes Bun sends: the UTF-8 encoding of the text, read one byte per char
    out.statusText = Buffer.from(outcome.statusText, "utf8").toString("latin1");
    out.limitation = "Bun's node:http writes a status text as UTF-8, not byte for byte: a latin1 (obs-text) status text reaches the client UTF-8 encoded";
  } else if (where.host === "deno" && outcome.statusText && outcome.statusText !== STATUS_CODES[outcome.status]) {
    // Deno.serve writes its own reason phrase for the code and has no way to send another
    out.statusText = undefined;
    out.limitation = "Deno.serve cannot send a custom status text (denoland/deno#14822): the status line has the standard reason phrase";
  }
  return out;
}

/** Differences between what the client should see and what it saw; empty when they agree. */
export function differences(want: Expected, got: WireResponse): string[] {
  const out: string[] = [];
  if (got.status !== want.status) out.push(`status ${got.status}, expected ${want.status}`);
  if (want.statusText !== undefined && got.statusText !== want.statusText) {
    out.push(`status text ${JSON.stringify(got.statusText)}, expected ${JSON.stringify(want.statusText)}`);
  }
  if (want.statusText === undefined) {
    // the limitation: whatever the host sends must still be the standard phrase (or none);
    // Deno's table spells a few without their hyphen ("Non Authoritative Information")
    const standard = STATUS_CODES[want.status] ?? "";
    const plain = (t: string) => t.toLowerCase().replace(/-/g, " ");
    if (got.statusText !== "" && plain(got.statusText) !== plain(standard)) {
      out.push(`status text ${JSON.stringify(got.statusText)}, expected the standard ${JSON.stringify(standard)} (${want.limitation})`);
    }
  }
  const gotHeaders = normalize(got.headers.filter(([k]) => !NOT_COMPARED.has(k)));
  if (want.errorMessage !== undefined) {
    out.push(...errorDifferences(want, got, gotHeaders));
    return out;
  }
  const [wantH, wantBody] = withoutBoundary(want.headers, want.body);
  const [gotH, gotBody] = withoutBoundary(gotHeaders, got.body);
  const a = JSON.stringify(wantH);
  const b = JSON.stringify(gotH);
  if (a !== b) out.push(`headers ${b}, expected ${a}`);
  if (Buffer.compare(Buffer.from(wantBody), Buffer.from(gotBody)) !== 0) {
    const at = firstDifference(gotBody, wantBody);
    out.push(`body ${preview(gotBody, at)} (${gotBody.length} bytes), expected ${preview(wantBody, at)} (${wantBody.length} bytes), first difference at byte ${at}`);
  }
  if (got.cut !== want.cut) out.push(want.cut ? "the body ended cleanly, expected it cut where the stream broke" : "the body was cut short");
  return out;
}

function errorDifferences(want: Expected, got: WireResponse, gotHeaders: [string, string][]): string[] {
  const out: string[] = [];
  const a = JSON.stringify(want.headers);
  if (JSON.stringify(gotHeaders) !== a) out.push(`headers ${JSON.stringify(gotHeaders)}, expected ${a}`);
  let error: { code?: string; message?: string; requestId?: string } | undefined;
  try {
    error = (JSON.parse(Buffer.from(got.body).toString("utf8")) as { error?: typeof error }).error;
  } catch {
    // reported below
  }
  if (!error) return [...out, `body ${preview(got.body)}, expected a function_error JSON`];
  if (error.code !== "function_error") out.push(`error code ${error.code}, expected function_error`);
  if (error.message !== want.errorMessage) out.push(`error message ${JSON.stringify(error.message)}, expected ${JSON.stringify(want.errorMessage)}`);
  const id = got.headers.find(([k]) => k === "x-request-id")?.[1];
  if (!id || error.requestId !== id) out.push(`error requestId ${error.requestId}, x-request-id ${id}`);
  return out;
}

/**
 * Header lines as a Headers object lists them: names lower-cased and sorted, repeated names
 * combined with ", " except set-cookie, whose lines stay apart. Servers may send a repeated
 * header as one line or several; a client sees the same either way.
 */
export function normalize(lines: [string, string][]): [string, string][] {
  const combined = new Map<string, string>();
  const cookies: string[] = [];
  for (const [rawName, value] of lines) {
    const name = rawName.toLowerCase();
    if (name === "set-cookie") cookies.push(value);
    else combined.set(name, combined.has(name) ? `${combined.get(name)}, ${value}` : value);
  }
  const out: [string, string][] = [...combined];
  for (const c of cookies) out.push(["set-cookie", c]);
  return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A multipart boundary is random per Response: compare with it replaced by a fixed word. */
function withoutBoundary(headers: [string, string][], body: Uint8Array): [[string, string][], Uint8Array] {
  const type = headers.find(([k]) => k === "content-type")?.[1];
  const boundary = type && /^multipart\/form-data;\s*boundary=(.+)$/i.exec(type)?.[1];
  if (!boundary) return [headers, body];
  const text = Buffer.from(body).toString("latin1").split(boundary).join("BOUNDARY");
  return [headers.map(([k, v]): [string, string] => [k, k === "content-type" ? v.replace(boundary, "BOUNDARY") : v]), new Uint8Array(Buffer.from(text, "latin1"))];
}

/** Up to 120 bytes of the body, around `at` (the first byte that differs) when given. */
function preview(body: Uint8Array, at = 0): string {
  const from = Math.max(0, at - 40);
  const text = Buffer.from(body.subarray(from, from + 120)).toString("latin1");
  return `${from > 0 ? "…" : ""}${JSON.stringify(text)}${from + 120 < body.length ? "…" : ""}`;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
