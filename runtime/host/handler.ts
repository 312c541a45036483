/**
 * The host's request handler. A request for a function is routed and relayed without building
 * a web Request or Response on the host (the server writes the Reply as it is); lanes' own
 * routes under /_lanes/ go to a Hono app (reserved.ts) as web Requests.
 */
import { getPath } from "hono/utils/url";
import type { Exchange, HttpHandler, RefusedRequest, Reply } from "../../adapters/types.ts";
import { errorReply, LanesError } from "../errors.ts";
import { isReservedPath } from "../manifest/schema.ts";
import { resolved } from "./dot-segments.ts";
import { unrouted } from "./finish.ts";
import { invoke, type InvokeOptions } from "./invoke.ts";
import { reservedApp, type HostInfo } from "./reserved.ts";
import { FunctionRoutes } from "./routes.ts";
import type { Served } from "./served.ts";

export interface HandlerOptions extends InvokeOptions {
  functions: () => Served[];
  /** The host process, for /_lanes/metrics. */
  host?: HostInfo;
}

export const VERSION_HEADER = "lanes-version";

/** The handler, and what the server answered itself (ServeOptions.refused), to log and count as the handler's own. */
export type HostHandler = HttpHandler & { refused(r: RefusedRequest): void };

export function createHandler(o: HandlerOptions): HostHandler {
  const routes = new FunctionRoutes(o.functions());
  const reserved = reservedApp(o);
  const stamp = o.version ? withVersion(o.version) : (r: Reply | Promise<Reply>) => r;
  return {
    fast(ex) {
      const reply = answer(ex);
      return reply === undefined ? undefined : stamp(reply);
    },
    web: (request, ex) => {
      const t0 = performance.now();
      // a 404 or 405 under /_lanes/ is an unrouted request like any other: counted and logged
      const counted = (res: Response) => {
        if (res.status === 404 || res.status === 405) unrouted(o, ex, getPath(request), res.headers.get("x-request-id") ?? "", t0, res.status);
        return res;
      };
      const res = reserved.fetch(request);
      return res instanceof Promise ? res.then(counted) : counted(res);
    },
    refused: (r) => unrouted(o, refusedExchange(r), r.target.split("?")[0]!, r.requestId, performance.now(), r.status),
  };

  function answer(ex: Exchange): Reply | Promise<Reply> | undefined {
    const requestId = crypto.randomUUID();
    const t0 = performance.now();
    let url: string;
    try {
      url = resolved(ex.url());
      checkAuthority(url);
    } catch (e) {
      return answered(o, ex, ex.target, requestId, t0, errorReply(e, requestId));
    }
    const path = getPath({ url } as Request);
    if (isReservedPath(path)) return undefined;
    const m = routes.match(ex.method, path);
    if (!m) return answered(o, ex, path, requestId, t0, errorReply(new LanesError("not_found", `no function is routed at ${path}`), requestId));
    if (!("served" in m)) {
      const methods = m.allow.join(", ");
      const err = new LanesError("method_not_allowed", `${ex.method} is not allowed on ${path} (allowed: ${methods})`, {
        headers: { allow: methods },
      });
      return answered(o, ex, path, requestId, t0, errorReply(err, requestId));
    }
    return invoke(ex, m.served, url, m.params, requestId, o, path, t0);
  }
}

/** The last authority (host and port) found valid: a host's requests mostly name one, parsed once. Not "" at first: `GET http:///a` names none. */
let validAuthority: string | undefined;

/**
 * The servers pass on a Host header or an absolute-form target that no URL parser takes (a port
 * past 65535, a bad percent-escape, a malformed IPv6 address): the function's `new Request(url)`
 * then threw, and a malformed request was answered and counted as the function's 500.
 */
function checkAuthority(url: string): void {
  const start = url.indexOf("//") + 2;
  const end = url.indexOf("/", start);
  const authority = end < 0 ? url.slice(start) : url.slice(start, end);
  if (authority === validAuthority) return;
  if (!URL.canParse(`http://${authority}/`)) throw new LanesError("bad_request", `the request's host is not a valid one (got ${JSON.stringify(authority.slice(0, 64))})`);
  validAuthority = authority;
}

/** The version in the answer's headers: a pair added to the Reply's list, no web object built. */
function withVersion(version: string) {
  const add = (r: Reply) => {
    r.headers.push([VERSION_HEADER, version]);
    return r;
  };
  return (r: Reply | Promise<Reply>) => (r instanceof Promise ? r.then(add) : add(r));
}

/** A request answered before any function: count and log it. */
function answered(o: HandlerOptions, ex: Exchange, path: string, requestId: string, t0: number, reply: Reply): Reply {
  unrouted(o, ex, path, requestId, t0, reply.status);
  return reply;
}

/** A request the server refused, seen as an Exchange for the access log and the span: its method, nothing more. */
function refusedExchange(r: RefusedRequest): Exchange {
  return {
    method: r.method,
    target: r.target,
    url: () => "",
    headerPairs: () => [],
    header: () => undefined,
    body: () => null,
    onAbort: () => {},
    remoteAddress: () => "",
  };
}
