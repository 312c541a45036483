/**
 * A request on Node's http server as an Exchange, and a Reply written straight to the
 * ServerResponse: no web Request or Response (undici's cost several µs each to build and read,
 * README.md in this folder, Serving HTTP).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { HeaderPairs } from "../runtime/channel/frames.ts";
import { LanesError } from "../runtime/errors.ts";
import type { Exchange, Reply } from "./types.ts";

/** What a Host header may hold: a host name or address and a port. */
const HOST = /^(?:[A-Za-z0-9._~!$&'()*+,;=%-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

export class NodeExchange implements Exchange {
  /** The handler stopped reading the body early: the connection cannot be reused. */
  abandoned = false;
  private bodySaid: boolean | undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly fallbackHost: string,
  ) {}

  get method(): string {
    return this.req.method ?? "GET";
  }

  get target(): string {
    return this.req.url ?? "/";
  }

  url(): string {
    const target = this.target;
    // RFC 9112, 3.2: a request with two Host lines gets a 400, as Deno.serve answers it; Node's
    // parser passes both, and the host named the first while a proxy in front may go by another
    if (this.hostLines() > 1) throw new LanesError("bad_request", "the request has more than one Host header");
    // a Host that is not a host is a 400 whatever the target's form (RFC 9112, 3.2)
    const host = this.rawHeader("host");
    if (host !== undefined) checkHost(host);
    if (!target.startsWith("/")) {
      if (/^https?:\/\//i.test(target)) return target; // absolute-form (a proxy's request)
      throw notAPath(target);
    }
    return `http://${host ?? this.fallbackHost}${target}`;
  }

  /**
   * From the parser's raw lines: building Node's header object or a web Headers would cost more.
   * Cookie lines are joined into one with "; ", as Deno.serve and Node's `req.headers` join them
   * (a request has one cookie-string: RFC 9113, 8.2.3): a Deno child's Headers joins repeated
   * lines with ", ", which made `a=1` and `b=2` one cookie `a` of "1, b=2".
   */
  headerPairs(): HeaderPairs {
    const raw = this.req.rawHeaders;
    const pairs: HeaderPairs = [];
    let cookie: [string, string] | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.length === 6 && name.toLowerCase() === "cookie") {
        if (cookie) {
          cookie[1] += `; ${raw[i + 1]!}`;
          continue;
        }
        cookie = [name, raw[i + 1]!];
        pairs.push(cookie);
      } else pairs.push([name, raw[i + 1]!]);
    }
    return pairs;
  }

  /**
   * The first value of a header, from the parser's raw lines (as `req.headers` keeps the first
   * Host): reading `req.headers` makes Node build its whole header object.
   */
  private hostLines(): number {
    const raw = this.req.rawHeaders;
    let n = 0;
    for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === "host") n++;
    return n;
  }

  private rawHeader(lowerName: string): string | undefined {
    const raw = this.req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.length === lowerName.length && name.toLowerCase() === lowerName) return raw[i + 1];
    }
    return undefined;
  }

  /** The request says it has a body (a Content-Length or a Transfer-Encoding): asked by the server and the host, found once. */
  hasBody(): boolean {
    if (this.bodySaid === undefined) {
      const raw = this.req.rawHeaders;
      this.bodySaid = false;
      for (let i = 0; i < raw.length && !this.bodySaid; i += 2) {
        const name = raw[i]!;
        // only names of those lengths are lower-cased
        if (name.length === 14) this.bodySaid = name.toLowerCase() === "content-length";
        else if (name.length === 17) this.bodySaid = name.toLowerCase() === "transfer-encoding";
      }
    }
    return this.bodySaid;
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
  }

  body(): AsyncIterable<Uint8Array> | null {
    if (!this.hasBody()) return null;
    const req = this.req;
    return {
      [Symbol.asyncIterator]: () => {
        const it = req[Symbol.asyncIterator]();
        return {
          next: () => it.next() as Promise<IteratorResult<Uint8Array>>,
          // leaving early must not destroy the socket (the answer still has to go out on it)
          return: async () => {
            this.abandoned = true;
            req.pause();
            return { done: true, value: undefined };
          },
        };
      },
    };
  }

  onAbort(listener: () => void): void {
    // asked late (runtime/pool/client-watch.ts): a response already closed says so, and emits no more "close"
    if (this.res.closed) {
      if (!this.res.writableFinished) queueMicrotask(listener);
      return;
    }
    this.res.once("close", () => {
      if (!this.res.writableFinished) listener();
    });
  }

  remoteAddress(): string {
    return this.req.socket.remoteAddress ?? "";
  }
}

/** The last Host value found valid: a host's requests mostly name one, tested once. Not "" at first: an empty Host is no host. */
let validHost: string | undefined;

/**
 * A Host header that is a host name or address and a port, or a 400. Deno.serve takes any value
 * and builds the Request's URL by pasting it before the target: `Host: a/b?` made the URL of
 * `GET /c` http://a/b?/c, so a Deno host routed it to the function at /b (README.md in this
 * folder, Serving HTTP).
 */
export function checkHost(host: string): void {
  if (host === validHost) return;
  if (!HOST.test(host)) throw new LanesError("bad_request", `the Host header is not a valid host (got ${JSON.stringify(host.slice(0, 64))})`);
  validHost = host;
}

/** checkHost for the Host among a request's lines, names in lower case (Deno.serve's, web-exchange.ts). */
export function checkHostLine(pairs: HeaderPairs): void {
  for (const [name, value] of pairs) if (name === "host") return checkHost(value);
}

/** A request target that is neither a path nor an absolute URL: a CONNECT's host:port, say. */
export function notAPath(target: string): LanesError {
  return new LanesError("bad_request", `the request target must be a path (got ${JSON.stringify(target.slice(0, 64))})`);
}

/** Write a Reply: the head with a Content-Length when the body is whole, then the bytes. */
export function writeReply(ex: NodeExchange, res: ServerResponse, reply: Reply): void {
  const flat: string[] = [];
  let hasLength = false;
  for (const [k, v] of reply.headers) {
    flat.push(k, v);
    if (!hasLength && k.length === 14 && k.toLowerCase() === "content-length") hasLength = true;
  }
  if (ex.abandoned) flat.push("connection", "close");
  const status = reply.status;
  if (reply.stream) {
    res.writeHead(status, reply.statusText || undefined, flat);
    if (ex.method === "HEAD") {
      // no body follows: the answer ends with its head, and the function's stream is cancelled
      // as when a client goes away (pumped into a ServerResponse that drops it, an endless
      // event stream held the connection and the function until its timeoutMs), as Deno.serve
      // and Bun.serve do
      res.end();
      void reply.stream.cancel().catch(() => {});
      return;
    }
    res.flushHeaders(); // the head reaches the client now, not with the first chunk
    void pump(reply.stream, res);
    return;
  }
  const body = NULL_BODY.has(status) ? null : reply.body;
  if (!hasLength && !NULL_BODY.has(status)) flat.push("content-length", String(body?.byteLength ?? 0));
  res.writeHead(status, reply.statusText || undefined, flat);
  // Node's server leaves the body out of an answer to HEAD by itself
  if (body && body.byteLength > 0) res.end(body, reply.written && (() => reply.written!()));
  else res.end();
}

/**
 * Copy a streamed body to the socket, at the pace the client reads it. One listener each for
 * "drain" and "close", not one per wait: a client that reads slowly made thousands of waits, and
 * a "close" listener each (MaxListenersExceededWarning).
 */
async function pump(stream: ReadableStream<Uint8Array>, res: ServerResponse): Promise<void> {
  const reader = stream.getReader();
  let wake: (() => void) | undefined;
  const resume = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  res.on("drain", resume);
  res.once("close", () => {
    resume();
    void reader.cancel().catch(() => {});
  });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      // a response destroyed already may have emitted its "close" too: nothing would wake the wait
      if (!res.write(value) && !res.destroyed) await new Promise<void>((r) => (wake = r));
      if (res.destroyed) return;
    }
    res.end();
  } catch {
    cutShort(res); // the body failed after the head went out: the client must see it cut
  }
}

/**
 * End a response before its body is complete, so the client sees it cut (no last chunk).
 * socket.end(), not destroy(): Node's destroy() drops what was written but not flushed yet,
 * the head included (README.md in this folder, Serving HTTP).
 */
function cutShort(res: ServerResponse): void {
  const socket = res.socket;
  if (socket && !socket.destroyed) socket.end();
  else res.destroy();
}
