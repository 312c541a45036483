/**
 * Bun and Deno hand the server's callback a web Request (built natively, and cheaply); this
 * views it as an Exchange, and turns a Reply into the web Response their servers want.
 */
import type { HeaderPairs } from "../runtime/channel/frames.ts";
import type { Exchange, HttpHandler, Reply } from "./types.ts";

export class WebExchange implements Exchange {
  /** The handler stopped reading the body early: the connection cannot be reused. */
  abandoned = false;

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
    return url.slice(url.indexOf("/", url.indexOf("//") + 2));
  }

  url(): string {
    return this.request.url;
  }

  headerPairs(): HeaderPairs {
    return this.lines?.(this.request) ?? ([...this.request.headers] as HeaderPairs);
  }

  header(name: string): string | undefined {
    return this.request.headers.get(name) ?? undefined;
  }

  /**
   * Read with a reader that is never released: releasing one (which the stream's own async
   * iterator does when it ends) rejects its `closed` promise with a new TypeError, and the stack
   * that error captures cost the Deno host 56 µs of a 256 KiB upload's 1.4 ms (adapters/README.md,
   * Serving HTTP, Reading a request body). A body read to its end, or cancelled, needs no release.
   */
  body(): AsyncIterable<Uint8Array> | null {
    const body = this.request.body;
    if (!body) return null;
    return {
      [Symbol.asyncIterator]: () => {
        const reader = body.getReader();
        let reading: Promise<unknown> | undefined;
        return {
          next: () => (reading = reader.read()) as Promise<IteratorResult<Uint8Array>>,
          return: async () => {
            this.abandoned = true;
            // after the read in progress, as the stream's own iterator does: a Deno.serve body
            // cancelled during a read never closes its connection (the 408 to a client that
            // sends a byte at a time stayed open until the client left; same section)
            await reading?.catch(() => {});
            await reader.cancel().catch(() => {});
            return { done: true, value: undefined };
          },
        };
      },
    };
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

/**
 * `closing`: the request's body was left unread, so the connection cannot carry another request;
 * saying so makes Bun send the answer and close at once instead of waiting for the rest of the
 * upload (measured, Bun 1.4.5).
 *
 * The headers are appended one by one rather than given to the constructor: the same checks and
 * the same header list, for half the cost (a body and two headers: 5.2 µs against 2.4 µs on
 * Deno, 0.89 against 0.58 µs on Bun; adapters/README.md, Channel).
 */
export function replyResponse(r: Reply, closing = false): Response {
  const res = new Response(r.stream ?? (r.body as Uint8Array<ArrayBuffer> | null), { status: r.status, statusText: r.statusText });
  // a Response keeps a copy of the bytes it is given (Fetch: "extract a body" of a BufferSource),
  // so the reply's own array may be reused at once
  if (!r.stream) r.written?.();
  const headers = res.headers;
  for (const [name, value] of r.headers) headers.append(name, value);
  if (closing) headers.append("connection", "close");
  return res;
}

/** The callback a fetch-style server (Bun.serve, Deno.serve) calls. */
export function fetchCallback(handler: HttpHandler, request: Request, address: () => string, lines?: (request: Request) => HeaderPairs | undefined): Response | Promise<Response> {
  const ex = new WebExchange(request, address, lines);
  const out = handler.fast(ex);
  if (out === undefined) return handler.web(request, ex);
  return out instanceof Promise ? out.then((r) => replyResponse(r, ex.abandoned)) : replyResponse(out, ex.abandoned);
}
