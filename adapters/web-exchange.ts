/**
 * Bun and Deno hand the server's callback a web Request (built natively, and cheaply); this
 * views it as an Exchange, and turns a Reply into the web Response their servers want.
 */
import type { HeaderPairs } from "../runtime/channel/frames.ts";
import type { Exchange, HttpHandler, Reply } from "./types.ts";

export class WebExchange implements Exchange {
  constructor(
    private readonly request: Request,
    private readonly address: () => string,
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
    return [...this.request.headers] as HeaderPairs;
  }

  header(name: string): string | undefined {
    return this.request.headers.get(name) ?? undefined;
  }

  body(): AsyncIterable<Uint8Array> | null {
    return this.request.body as (ReadableStream<Uint8Array> & AsyncIterable<Uint8Array>) | null;
  }

  onAbort(listener: () => void): void {
    this.request.signal.addEventListener("abort", listener, { once: true });
  }

  remoteAddress(): string {
    return this.address();
  }
}

export function replyResponse(r: Reply): Response {
  return new Response(r.stream ?? (r.body as Uint8Array<ArrayBuffer> | null), { status: r.status, statusText: r.statusText, headers: r.headers });
}

/** The callback a fetch-style server (Bun.serve, Deno.serve) calls. */
export function fetchCallback(handler: HttpHandler, request: Request, address: () => string): Response | Promise<Response> {
  const ex = new WebExchange(request, address);
  const out = handler.fast(ex);
  if (out === undefined) return handler.web(request, ex);
  return out instanceof Promise ? out.then(replyResponse) : replyResponse(out);
}
