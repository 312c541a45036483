/**
 * An HTTP/1.1 client that sends exactly the bytes a case asks for and reports exactly what came
 * back, so the comparison is independent of the test runtime's own fetch(): header bytes are read
 * as latin1 (one char per byte, as Fetch clients read a ByteString), repeated lines are kept, and
 * a body cut short (a chunked body without its last chunk) is seen as cut.
 */
import { Buffer } from "node:buffer";
import { connect } from "node:net";

export interface RequestSpec {
  method: string;
  /** Path and query as sent on the request line (already percent-encoded). */
  target: string;
  /** Header lines after Host, as ByteStrings (each char one byte). */
  headers: [string, string][];
  body?: Uint8Array;
}

export interface WireResponse {
  status: number;
  statusText: string;
  /** Header lines in arrival order; names lower-cased, values as latin1. */
  headers: [string, string][];
  body: Uint8Array;
  /** The connection closed before the body was complete. */
  cut: boolean;
}

/** The header lines a request really carries (what the oracle's Request gets too). */
export function requestHeaders(hostPort: string, spec: RequestSpec): [string, string][] {
  // a valid W3C traceparent: lanes passes it to the function unchanged (without one it starts a
  // trace and adds the header, which the bare runtime would not)
  const out: [string, string][] = [["host", hostPort], ["traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"], ...spec.headers];
  if (spec.body) out.push(["content-length", String(spec.body.byteLength)]);
  return out;
}

export function send(base: string, spec: RequestSpec, timeoutMs = 15_000): Promise<WireResponse> {
  const url = new URL(base);
  const head =
    `${spec.method} ${spec.target} HTTP/1.1\r\n` +
    requestHeaders(url.host, spec)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("") +
    "connection: close\r\n\r\n";
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect(Number(url.port), url.hostname);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${spec.method} ${spec.target}: no complete answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.on("error", () => {}); // a reset after the answer: 'close' reports what arrived
    sock.on("close", () => {
      clearTimeout(timer);
      try {
        resolve(parse(Buffer.concat(chunks), spec.method));
      } catch (e) {
        reject(new Error(`${spec.method} ${spec.target}: ${(e as Error).message}`));
      }
    });
    sock.on("connect", () => {
      sock.write(Buffer.from(head, "latin1"));
      if (spec.body) sock.write(spec.body);
    });
  });
}

function parse(raw: Buffer, method: string): WireResponse {
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) throw new Error(`no complete response head in ${raw.length} bytes: ${JSON.stringify(raw.toString("latin1").slice(0, 200))}`);
  const [statusLine = "", ...lines] = raw.subarray(0, end).toString("latin1").split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!m) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
  const status = Number(m[1]);
  const headers = lines.map((l): [string, string] => {
    const i = l.indexOf(":");
    return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
  });
  const rest = raw.subarray(end + 4);
  const get = (name: string) => headers.find(([k]) => k === name)?.[1];
  if (method === "HEAD" || status === 204 || status === 304) return { status, statusText: m[2] ?? "", headers, body: new Uint8Array(0), cut: false };
  if (get("transfer-encoding")?.toLowerCase() === "chunked") return { status, statusText: m[2] ?? "", headers, ...dechunk(rest) };
  const length = get("content-length");
  if (length !== undefined) {
    const n = Number(length);
    return { status, statusText: m[2] ?? "", headers, body: new Uint8Array(rest.subarray(0, n)), cut: rest.length < n };
  }
  return { status, statusText: m[2] ?? "", headers, body: new Uint8Array(rest), cut: false };
}

function dechunk(data: Buffer): { body: Uint8Array; cut: boolean } {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf("\r\n", at);
    if (eol < 0) return { body: Buffer.concat(parts), cut: true };
    const size = parseInt(data.subarray(at, eol).toString("latin1").split(";")[0]!, 16);
    if (Number.isNaN(size)) return { body: Buffer.concat(parts), cut: true };
    if (size === 0) return { body: Buffer.concat(parts), cut: false };
    const start = eol + 2;
    if (data.length < start + size + 2) {
      parts.push(data.subarray(start, Math.min(data.length, start + size)));
      return { body: Buffer.concat(parts), cut: true };
    }
    parts.push(data.subarray(start, start + size));
    at = start + size + 2;
  }
}
