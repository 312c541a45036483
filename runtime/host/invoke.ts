/**
 * One request to one function: refuse it early when the function is full (before its body is
 * read), read the body within the function's limit, and relay it to the pool. Every failure
 * becomes an error reply; nothing throws out of here.
 */
import type { Exchange, Reply } from "../../adapters/types.ts";
import { errorReply, LanesError } from "../errors.ts";
import { readBody } from "./body.ts";
import type { Served } from "./served.ts";

export interface InvokeOptions {
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
): Promise<Reply> {
  const { spec, pool } = served;
  const deadline = Date.now() + spec.timeoutMs;
  served.active++; // before any await: a reload that swaps routes next tick sees it
  try {
    if (!pool) throw served.error ?? new LanesError("unavailable", `function "${spec.name}" is not available`);
    const wait = pool.admit(); // a full function refuses before its body is read
    if (wait) await wait;
    const method = ex.method;
    const body = method === "GET" || method === "HEAD" ? null : await readBody(ex, spec.maxBodyBytes, spec.name, deadline);
    // a client that goes away cancels its request, and the function's request.signal aborts
    const client = { onGone: (listener: () => void) => ex.onAbort(listener) };
    return await pool.dispatch({ requestId, method, url, headers: ex.headerPairs(), params, body }, deadline, client);
  } catch (e) {
    return errorReply(o.dev && o.mapStack ? withMappedStack(e, o.mapStack) : e, requestId, o.dev);
  } finally {
    served.active--;
  }
}

function withMappedStack(e: unknown, mapStack: (s: string) => string): unknown {
  if (!(e instanceof LanesError) || !e.guestStack) return e;
  return new LanesError(e.code, e.message, { headers: e.headers, guestStack: mapStack(e.guestStack), cause: e });
}
