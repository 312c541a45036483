/**
 * Bun and Deno hand the server's callback a web Request (built natively, and cheaply); this
 * views it as an Exchange, and turns a Reply into the web Response their servers want.
 */
import { headerPairs, type HeaderPairs } from "../runtime/channel/frames.ts";
import { errorReply } from "../runtime/errors.ts";
import { resolved } from "../runtime/host/dot-segments.ts";
import { SERVED_METHODS, unservedMethod } from "../runtime/host/methods.ts";
import { unsendable } from "../runtime/pool/framing.ts";
import { checkHostLine, notAPath } from "./node-exchange.ts";
import type { Exchange, HttpHandler, RefusedRequest, Reply } from "./types.ts";
import { LINGER_MS } from "./unread-body.ts";

export class WebExchange implements Exchange {
  /** The body was stopped early, or is dropped unread (refuseUnread): the connection cannot be reused. */
  abandoned = false;
  /** The Response went back to the server. */
  private responded = false;
  private bodyTaken = false;
  private pairs: HeaderPairs | undefined;
  /** Cancels the body stream of an abandoned body, once the server has the response. */
  private cancelBody?: () => void;

  constructor(
    private readonly request: Request,
    private readonly address: () => string,
    /** The request's header lines read straight from the runtime, where it can (deno-request.ts). */
    private readonly lines?: (request: Request) => HeaderPairs | undefined,
  ) {}

  get method(): string {
    return this.request.method;
  }

  get target(): string {
    const url = this.request.url;
    const authority = url.indexOf("//") + 2;
    const path = url.indexOf("/", authority);
    return path < 0 ? url.slice(authority) : url.slice(path);
  }

  url(): string {
    const url = this.request.url;
    // Deno.serve hands on a CONNECT to host:port (authority-form) as a URL with no path; Node's
    // server keeps the target as it came, and both refuse it alike (a CONNECT to a path gets a
    // 400 from Deno.serve itself before lanes sees it)
    if (url.indexOf("/", url.indexOf("//") + 2) < 0) throw notAPath(this.target);
    // the URL is the Host value and the target pasted together (checkHost), or an absolute-form
    // target of any scheme (ftp://a/b), where Node's and Bun's servers take http(s) only
    checkHostLine(this.headerPairs());
    if (!url.startsWith("http://") && !url.startsWith("https://")) throw notAPath(url);
    return url;
  }

  /** Read once, by url() (the Host) and invoke.ts: a relayed request never builds `request.headers`. */
  headerPairs(): HeaderPairs {
    this.pairs ??= this.lines?.(this.request) ?? headerPairs(this.request.headers);
    return this.pairs;
  }

  header(name: string): string | undefined {
    return this.request.headers.get(name) ?? undefined;
  }

  /**
   * Read with a reader that is never released: releasing one (which the stream's own async
   * iterator does when it ends) rejects its `closed` promise with a new TypeError, and the stack
   * that error captures cost the Deno host 56 µs of a 256 KiB upload's 1.4 ms (README.md in this folder,
   * Serving HTTP, Reading a request body). A body read to its end, or cancelled, needs no release.
   * With `into`, a BYOB reader reads the body straight into it: Deno's default reader reads each
   * piece into a fresh 64 KiB array, which the host then copies (README.md in this folder, Reading a
   * request body).
   */
  body(into?: Uint8Array): AsyncIterable<Uint8Array> | null {
    const body = this.request.body;
    if (!body) return null;
    this.bodyTaken = true;
    return {
      [Symbol.asyncIterator]: () => {
        const byob = into && byobReader(body);
        const reader = byob ?? body.getReader();
        const read = byob ? readInto(byob, into!) : () => (reader as ReadableStreamDefaultReader<Uint8Array>).read() as Promise<IteratorResult<Uint8Array>>;
        return {
          next: read,
          return: () => {
            this.abandoned = true;
            this.cancelBody = () => void reader.cancel().catch(() => {});
            if (this.responded) this.afterResponse();
            return Promise.resolve({ done: true, value: undefined });
          },
        };
      },
    };
  }

  /**
   * Before the answer goes out: a body left unread is taken, its reader holding the connection
   * while the answer is written; after it, the body is read and dropped for a while
   * (unread-body.ts), and then cancelled, so that Deno closes the connection then instead of
   * reading the rest itself (see afterResponse).
   */
  refuseUnread(): void {
    // cheapest first: every request comes through here (a GET asks for nothing more)
    if (this.bodyTaken) return;
    const method = this.request.method;
    if (method === "GET" || method === "HEAD") return; // Deno.serve gives them no body
    if (this.request.bodyUsed) return;
    const headers = this.request.headers;
    // neither: no body (Deno.serve gives such a request an empty stream)
    if (headers.get("content-length") === null && headers.get("transfer-encoding") === null) return;
    const body = this.request.body;
    if (!body || body.locked) return; // (one of lanes' own routes reading it still)
    this.bodyTaken = true;
    const reader = body.getReader();
    const reading = reader.read();
    reading.catch(() => {}); // (the client may leave before the timer below)
    // Not `abandoned`: the answer does not say Connection: close. Deno.serve keeps a connection
    // whose body ended within the linger, whatever the answer said, and served a request
    // pipelined after a 413 that said close (RFC 9112 9.6: nothing after it may be processed);
    // one that did not end is cut at the linger's end with or without it (measured, Deno 2.9.6)
    this.cancelBody = () => {
      const timer = setTimeout(() => void reader.cancel().catch(() => {}), LINGER_MS);
      const drop = (r: ReadableStreamReadResult<Uint8Array>): unknown => (r.done ? clearTimeout(timer) : reader.read().then(drop));
      void reading.then(drop).catch(() => clearTimeout(timer));
    };
  }

  /**
   * The Response went back to Deno.serve: an abandoned body may be cancelled now, but not before.
   * Deno closes a `connection: close` answer's socket at once only if the body's reader still
   * holds it when the answer is written; a body cancelled before that is drained to its end
   * first, so a client sending a byte every 200 ms kept its connection after its 408
   * (README.md in this folder, Serving HTTP). The timer lets Deno write the answer, which it does on
   * the event loop's next turn.
   */
  afterResponse(): void {
    this.responded = true;
    const cancel = this.cancelBody;
    if (!cancel) return;
    this.cancelBody = undefined;
    setTimeout(cancel, 0);
  }

  onAbort(listener: () => void): void {
    const signal = this.request.signal;
    // asked late (runtime/pool/client-watch.ts): Bun's signal is already aborted for a client gone by then
    if (signal.aborted) queueMicrotask(listener);
    else signal.addEventListener("abort", listener, { once: true });
  }

  remoteAddress(): string {
    return this.address();
  }
}

function byobReader(body: ReadableStream<Uint8Array>): ReadableStreamBYOBReader | undefined {
  try {
    return body.getReader({ mode: "byob" });
  } catch {
    return undefined; // not a byte stream
  }
}

/**
 * The most one BYOB read asks for. Deno commits the whole view of a read before it fills it: a
 * read into the rest of a body that declared 1 GB took 1 GB of resident memory and a second of
 * the host's thread, for the 100 bytes that had come (20 such clients: 8.5 GB, the host stalled).
 */
const MAX_READ = 1024 * 1024;

/**
 * Reads of a body into `into`, each into the rest of its memory (at most MAX_READ). A read moves
 * that memory to a new ArrayBuffer (Streams: a BYOB read transfers its view's buffer), so each
 * chunk is a view of the latest one, at the chunk's place in the body; once `into` is full, a
 * read into a byte of its own sees the end.
 */
function readInto(reader: ReadableStreamBYOBReader, into: Uint8Array): () => Promise<IteratorResult<Uint8Array>> {
  let memory = into.buffer as ArrayBuffer;
  let at = into.byteOffset;
  const end = into.byteOffset + into.byteLength;
  let ended = false;
  return async () => {
    if (ended) return { done: true, value: undefined };
    const r = await reader.read(at < end ? new Uint8Array(memory, at, Math.min(end - at, MAX_READ)) : new Uint8Array(1));
    if (at === end) return r.done ? { done: true, value: undefined } : { done: false, value: r.value };
    if (!r.value) return { done: true, value: undefined };
    // a body that ends early: its end moved the memory too, so an empty chunk says where it went
    ended = r.done;
    memory = r.value.buffer as ArrayBuffer;
    at += r.value.byteLength;
    return { done: false, value: r.value };
  };
}

/**
 * `closing`: the request's body was left unread, so the connection cannot carry another request;
 * saying so makes Bun send the answer and close at once instead of waiting for the rest of the
 * upload (measured, Bun 1.4.5).
 *
 * The headers are appended one by one rather than given to the constructor: the same checks and
 * the same header list, for half the cost (a body and two headers: 5.2 µs against 2.4 µs on
 * Deno, 0.89 against 0.58 µs on Bun; README.md in this folder, Channel).
 */
export function replyResponse(r: Reply, closing = false, keepAlive?: string): Response {
  const res = new Response(r.stream ?? (r.body as Uint8Array<ArrayBuffer> | null), { status: r.status, statusText: r.statusText });
  // a Response keeps a copy of the bytes it is given (Fetch: "extract a body" of a BufferSource),
  // so the reply's own array may be reused at once
  if (!r.stream) r.written?.();
  const headers = res.headers;
  for (const [name, value] of r.headers) headers.append(name, value);
  if (closing) headers.append("connection", "close");
  else if (keepAlive) headers.append("keep-alive", keepAlive);
  return res;
}

/** How fetchCallback answers, the same for every request of a server: `draining`, answers say Connection: close; `keepAlive`, the hint an answer that keeps its connection carries. */
export interface FetchOptions {
  lines?: (request: Request) => HeaderPairs | undefined;
  draining?: () => boolean;
  refused?: (r: RefusedRequest) => void;
  keepAlive?: string;
}

/** The callback a fetch-style server (Deno.serve) calls; `closeAfter` closes the request's connection once its answer is sent. */
export function fetchCallback(handler: HttpHandler, request: Request, address: () => string, o: FetchOptions = {}, closeAfter?: () => void): Response | Promise<Response> {
  const { draining, keepAlive } = o;
  const ex = new WebExchange(request, address, o.lines);
  // Deno.serve takes any method token; Node's and Bun's parsers refuse all but their list, and a
  // Deno host refuses the same (runtime/host/methods.ts), closing the connection as they do (a
  // Connection: close alone does not close it: Deno.serve kept the connection and served the next)
  if (!SERVED_METHODS.has(request.method)) {
    closeAfter?.();
    const requestId = crypto.randomUUID();
    const reply = errorReply(unservedMethod(request.method), requestId);
    o.refused?.({ method: request.method, target: ex.target, status: reply.status, requestId });
    return respond(ex, reply, true);
  }
  // a CONNECT is never relayed (runtime/host/routes.ts); after answering one to host:port,
  // Deno.serve reads nothing more of its connection and keeps it, until the idle watch closed it
  // 5-6 s later: closed after the answer, as on Node and Bun hosts
  const connect = request.method === "CONNECT";
  if (connect) closeAfter?.();
  const out = handler.fast(ex);
  if (out === undefined) {
    const res = handler.web(withResolvedPath(request), ex);
    return res instanceof Promise
      ? res.then(
          (r) => answered(ex, r, keepAlive),
          (e) => {
            ex.afterResponse();
            throw e;
          },
        )
      : answered(ex, res, keepAlive);
  }
  const closing = connect || draining?.();
  return out instanceof Promise ? out.then((r) => respond(ex, r, connect || draining?.(), closeAfter, keepAlive)) : respond(ex, out, closing, closeAfter, keepAlive);
}

/**
 * Deno.serve's Request keeps the target's dot segments (`/x/../_lanes/functions`), which the
 * host routed by its resolved path (dot-segments.ts): lanes' own routes get that path too, as
 * Node's and Bun's get it from the Request @hono/node-server builds.
 */
function withResolvedPath(request: Request): Request {
  const url = resolved(request.url);
  return url === request.url ? request : new Request(url, request);
}

/** A Response of lanes' own routes (Hono), which may have left the body unread. */
function answered(ex: WebExchange, res: Response, keepAlive?: string): Response {
  ex.refuseUnread();
  ex.afterResponse();
  if (keepAlive && !res.headers.has("connection")) {
    try {
      res.headers.set("keep-alive", keepAlive);
    } catch {
      // a Response whose headers cannot change (Response.redirect) goes without it
    }
  }
  return res;
}

function respond(ex: WebExchange, r: Reply, draining = false, closeAfter?: () => void, keepAlive?: string): Response {
  ex.refuseUnread();
  // checked before Deno.serve sees it: a control character in a header value panics it, and the
  // host process ends with every request in it
  const refused = unsendable(r.headers);
  if (refused) void r.stream?.cancel().catch(() => {});
  // A 205 has no content (RFC 9110, 15.3.6), and Deno.serve sends one with neither a length nor
  // chunked, keeping the connection (measured, Deno 2.9.6): a client that reads by RFC 9112, 6.3
  // (curl, Python's http.client) read it to the connection's end, which came with the idle
  // timeout, seconds later. The connection ends after it, which RFC 9110 allows
  const reset = closeAfter !== undefined && (refused ?? r).status === 205;
  if (reset) closeAfter();
  const res = replyResponse(refused ?? r, ex.abandoned || draining || reset, keepAlive);
  ex.afterResponse();
  return res;
}
