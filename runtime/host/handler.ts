/**
 * The host's request handler. A request for a function is routed and relayed without building
 * a web Request or Response on the host (the server writes the Reply as it is); lanes' own
 * routes under /_lanes/ go to a Hono app (reserved.ts) as web Requests.
 */
import { getPath } from "hono/utils/url";
import type { Exchange, HttpHandler, Reply } from "../../adapters/types.ts";
import { errorReply, LanesError } from "../errors.ts";
import { invoke, type InvokeOptions } from "./invoke.ts";
import { reservedApp, type HostInfo } from "./reserved.ts";
import { FunctionRoutes } from "./routes.ts";
import type { RequestLog, Served } from "./served.ts";

export interface HandlerOptions extends InvokeOptions {
  functions: () => Served[];
  onRequest?: (entry: RequestLog) => void;
  /** The host process, for /_lanes/metrics. */
  host?: HostInfo;
  /** With a deploy store: the version these functions belong to, named in every answer and log line. */
  version?: string;
}

export const VERSION_HEADER = "lanes-version";

export function createHandler(o: HandlerOptions): HttpHandler {
  const routes = new FunctionRoutes(o.functions());
  const reserved = reservedApp(o);
  const stamp = o.version ? withVersion(o.version) : (r: Reply | Promise<Reply>) => r;
  return {
    fast(ex) {
      const reply = answer(ex);
      return reply === undefined ? undefined : stamp(reply);
    },
    web: (request) => reserved.fetch(request),
  };

  function answer(ex: Exchange): Reply | Promise<Reply> | undefined {
    const requestId = crypto.randomUUID();
    let url: string;
    try {
      url = ex.url();
    } catch (e) {
      return errorReply(e, requestId);
    }
    const path = getPath({ url } as Request);
    if (path === "/_lanes" || path.startsWith("/_lanes/")) return undefined;
    const m = routes.match(ex.method, path);
    if (!m) return logged(o, ex, path, undefined, requestId, errorReply(new LanesError("not_found", `no function is routed at ${path}`), requestId));
    if (!("served" in m)) {
      const methods = m.allow.join(", ");
      const err = new LanesError("method_not_allowed", `${ex.method} is not allowed on ${path} (allowed: ${methods})`, {
        headers: { allow: methods },
      });
      return logged(o, ex, path, undefined, requestId, errorReply(err, requestId));
    }
    const reply = invoke(ex, m.served, url, m.params, requestId, o);
    return o.onRequest ? logged(o, ex, path, m.served, requestId, reply) : reply;
  }
}

/** The version in the answer's headers: a pair added to the Reply's list, no web object built. */
function withVersion(version: string) {
  const add = (r: Reply) => (r.headers.push([VERSION_HEADER, version]), r);
  return (r: Reply | Promise<Reply>) => (r instanceof Promise ? r.then(add) : add(r));
}

/** Report the request to the request log once its answer is known. */
function logged<R extends Reply | Promise<Reply>>(o: HandlerOptions, ex: Exchange, path: string, served: Served | undefined, requestId: string, reply: R): R {
  if (!o.onRequest) return reply;
  const started = performance.now();
  const report = (r: Reply) =>
    o.onRequest?.({
      method: ex.method,
      path,
      fn: served?.spec.name,
      lane: served?.spec.lane,
      status: r.status,
      ms: performance.now() - started,
      requestId,
      ...(o.version ? { version: o.version } : {}),
    });
  if (reply instanceof Promise) return reply.then((r) => (report(r), r)) as R;
  report(reply as Reply);
  return reply;
}
