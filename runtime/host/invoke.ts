/**
 * One request to one function: refuse it early when the function is full (before its body is
 * read), read the body within the function's limit, and relay it to the pool. Every failure
 * becomes an error reply; nothing throws out of here.
 */
import type { Exchange, Reply } from "../../adapters/types.ts";
import { hostBuffers } from "../channel/buffer-pool.ts";
import { MAX_HEADERS } from "../channel/frames.ts";
import { errorReply, LanesError } from "../errors.ts";
import { traceRequest } from "../ops/trace.ts";
import { BodyReads, readBody } from "./body.ts";
import { finished, type RequestOps } from "./finish.ts";
import type { ClientHooks } from "../pool/instance.ts";
import type { Served } from "./served.ts";

export interface InvokeOptions extends RequestOps {
  dev: boolean;
  /** `lanes dev`: maps a guest stack to the user's source files before it is sent. */
  mapStack?: (stack: string) => string;
}

export async function invoke(
  ex: Exchange,
  served: Served,
  url: string,
  params: Record<string, string>,
  requestId: string,
  o: InvokeOptions,
  path: string,
  /** performance.now() when the request arrived. */
  t0: number,
): Promise<Reply> {
  const { spec, pool } = served;
  const deadline = Date.now() + spec.timeoutMs;
  const method = ex.method;
  served.active++; // before any await: a reload that swaps routes next tick sees it
  // the function gets a valid traceparent in its headers (kept, or a new trace); exported spans make the host's span its parent
  const headers = ex.headerPairs();
  const trace = traceRequest(headers, requestId, o.spans !== undefined, o.spans !== undefined);
  let reply: Reply;
  let body: Uint8Array | null = null;
  try {
    if (!pool) throw served.error ?? new LanesError("unavailable", `function "${spec.name}" is not available`);
    // no server here passes as many (frames.ts): a frame could not carry them
    if (headers.length > MAX_HEADERS) throw new LanesError("bad_request", `the request has ${headers.length} headers: at most ${MAX_HEADERS} reach a function`);
    const wait = pool.admit(); // a full function refuses before its body is read
    if (wait) await wait;
    try {
      body = method === "GET" || method === "HEAD" ? null : await readBody(ex, spec.maxBodyBytes, spec.name, deadline, (served.bodyReads ??= new BodyReads()));
    } finally {
      pool.arrived(); // the place admit() held is this request's in dispatch, in the same turn, or nobody's
    }
    // a client that goes away cancels its request, and the function's request.signal aborts
    reply = await pool.dispatch({ requestId, method, url, headers, params, body }, deadline, new ClientOf(ex));
  } catch (e) {
    reply = errorReply(o.dev && o.mapStack ? withMappedStack(e, o.mapStack) : e, requestId, o.dev);
  } finally {
    served.active--;
    hostBuffers.give(body); // nothing reads it now (a pipe write still in progress holds it: buffer-pool.ts)
  }
  finished(o, served, method, path, requestId, trace, t0, reply.status);
  return reply;
}

/**
 * The client's going away, as the pool hears of it. An object of a class rather than a closure
 * per request: a Node host runs through tsx, which keeps function names by naming every closure
 * as it is made (2% of the host's thread in a profile, runtime/channel/codec.ts).
 */
class ClientOf implements ClientHooks {
  constructor(private readonly ex: Exchange) {}
  onGone(listener: () => void): void {
    this.ex.onAbort(listener);
  }
}

function withMappedStack(e: unknown, mapStack: (s: string) => string): unknown {
  if (!(e instanceof LanesError) || !e.guestStack) return e;
  return new LanesError(e.code, e.message, { headers: e.headers, guestStack: mapStack(e.guestStack), cause: e });
}
