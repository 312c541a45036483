/**
 * Deno guests only: the parts of a Response (status, headers as the platform lists them, body
 * bytes) read from Deno's own state instead of through `[...res.headers]` and the body's
 * ReadableStream. Through the isolate lane a `hello` spent about a fifth of the worker's time
 * making the stream, a reader and the promises around it, and sorting the headers into a
 * Headers iterator (README.md in this folder, Channel).
 *
 * Only a body Deno keeps as a plain string or bytes, not yet read, is taken this way; the body
 * is then marked used, as reading it would have done (`bodyUsed` is true, and a Response
 * returned a second time fails with "ReadableStream is locked", as before). Anything else (a
 * stream, a Blob, FormData, a body already read or whose stream was asked for) is read the
 * platform's way. At start-up the reader compares its answers with the platform's on sample
 * responses; on any difference it stays off.
 */
import type { HeaderPairs } from "../runtime/channel/frames.ts";
import { iteratedHeaders, type ResponseParts } from "./response-parts.ts";
import { symbolNamed } from "./undici.ts";
import { Slab } from "../runtime/channel/slab.ts";

interface InnerBody {
  streamOrStatic: { body?: unknown; consumed?: boolean } | ReadableStream<Uint8Array>;
  source: unknown;
}
interface InnerResponse {
  status: number;
  statusMessage: string;
  headerList: [string, string][];
  body: InnerBody | null;
}
type Keys = { response: symbol; lazyBody: symbol; lazyType: symbol };

/** A string body is encoded into a slice: it is sent, then dropped (slab.ts). */
const bodies = new Slab();

function partsWith(keys: Keys, res: Response): ResponseParts | undefined {
  // Deno 2.9 keeps a new Response's body and content-type aside (for Deno.serve's own fast
  // path) until something asks for its headers or body: asking for the headers (0.06 µs) puts
  // both where a Response built the long way keeps them (measured)
  void res.headers;
  const r = res as unknown as Record<symbol, unknown>;
  if (r[keys.lazyBody] != null || r[keys.lazyType] != null) return undefined;
  const inner = r[keys.response] as InnerResponse | undefined;
  if (!inner || typeof inner !== "object" || !Array.isArray(inner.headerList)) return undefined;
  let body: Uint8Array | null = null;
  if (inner.body !== null) {
    const held = inner.body?.streamOrStatic;
    if (!held || held instanceof ReadableStream || held.consumed !== false) return undefined;
    const source = inner.body.source;
    if (typeof source === "string") body = bodies.encode(source);
    // the Response's own copy (Deno copies bytes at construction), read by nothing else once
    // marked used: it goes as it is (to a pipe, or transferred to the host)
    else if (source instanceof Uint8Array) body = source;
    else return undefined;
    held.consumed = true;
  }
  return { status: inner.status, statusText: inner.statusMessage, headers: iteratedHeaders(inner.headerList), body };
}

/** The samples the reader must answer exactly as the platform does before it is used. */
function samples(): Response[] {
  const cookies = new Response("text ✓", {
    status: 201,
    statusText: "Made",
    headers: [
      ["Set-Cookie", "a=1"],
      ["X-A", "1"],
    ],
  });
  cookies.headers.append("set-cookie", "b=2");
  cookies.headers.append("x-a", "2");
  return [
    cookies,
    new Response("text"),
    new Response("text", { status: 200 }),
    new Response(JSON.stringify(1), { status: 404, statusText: "" }),
    new Response(new Uint8Array([0, 1, 255])),
    Response.json({ a: [1] }),
    new Response(null, { status: 204 }),
    Response.redirect("http://lanes.test/", 302),
  ];
}

async function platformParts(res: Response): Promise<ResponseParts> {
  const headers = [...res.headers] as HeaderPairs;
  const bytes = res.body ? new Uint8Array(await res.arrayBuffer()) : null;
  return { status: res.status, statusText: res.statusText, headers, body: bytes };
}

const describe = (p: ResponseParts | undefined) => JSON.stringify(p && { ...p, body: p.body && [...p.body] });

async function check(): Promise<((res: Response) => ResponseParts | undefined) | undefined> {
  if (!("Deno" in globalThis)) return undefined;
  const probe = Response.json(0);
  const response = symbolNamed(probe, "response");
  if (!response) return undefined;
  const lazyBody = symbolNamed(probe, "lazy static body");
  const lazyType = symbolNamed(probe, "lazy static content type");
  if (!lazyBody || !lazyType) return undefined;
  const keys: Keys = { response, lazyBody, lazyType };
  const ours = samples().map((res) => partsWith(keys, res));
  const theirs = await Promise.all(samples().map(platformParts));
  for (let i = 0; i < ours.length; i++) if (describe(ours[i]) !== describe(theirs[i])) return undefined;
  return (res) => partsWith(keys, res);
}

let reader: ((res: Response) => ResponseParts | undefined) | undefined;

/** Call once at start-up (before the first request); the reader stays off if Deno's state looks different. */
export async function enableDenoParts(): Promise<void> {
  try {
    reader = await check();
  } catch {
    reader = undefined;
  }
}

/** The parts of `res`, or undefined when it must be read the platform's way. */
export function denoParts(res: Response): ResponseParts | undefined {
  return reader?.(res);
}
