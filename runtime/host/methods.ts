/**
 * The request methods a lanes host serves: the same set on Node, Bun and Deno. Node's HTTP
 * parser (llhttp) reads only its fixed list, upper-case as written (`http.METHODS`: Node 20-24,
 * and Bun 1.4's node:http, which both hosts serve with), and answers anything else 400 before
 * lanes sees it; Deno.serve takes any token RFC 9110 allows (`M5X`, `get`, `FOO-BAR`), and a
 * Deno host relayed those to functions that a Node or Bun host refused. A Deno host now refuses
 * them too, and every host answers lanes' own JSON 400 `bad_request` with an x-request-id
 * (adapters/node-http.ts, adapters/web-exchange.ts). Methods are case-sensitive (RFC 9110,
 * 9.1): `get` is not GET. TRACE and CONNECT are in the list: they are read, then refused by the
 * router with a 405 (routes.ts).
 */
import type { Env, Hono } from "hono";
import { LanesError } from "../errors.ts";

export const SERVED_METHODS: ReadonlySet<string> = new Set([
  "ACL",
  "BIND",
  "CHECKOUT",
  "CONNECT",
  "COPY",
  "DELETE",
  "GET",
  "HEAD",
  "LINK",
  "LOCK",
  "M-SEARCH",
  "MERGE",
  "MKACTIVITY",
  "MKCALENDAR",
  "MKCOL",
  "MOVE",
  "NOTIFY",
  "OPTIONS",
  "PATCH",
  "POST",
  "PROPFIND",
  "PROPPATCH",
  "PURGE",
  "PUT",
  "QUERY",
  "REBIND",
  "REPORT",
  "SEARCH",
  "SOURCE",
  "SUBSCRIBE",
  "TRACE",
  "UNBIND",
  "UNLINK",
  "UNLOCK",
  "UNSUBSCRIBE",
]);

/** The 400 for a method no host serves; `method` is undefined where the parser's bytes do not show it. */
export function unservedMethod(method: string | undefined): LanesError {
  const named = method === undefined ? "the request's method" : `the method ${JSON.stringify(method.slice(0, 40))}`;
  return new LanesError(
    "bad_request",
    `${named} is not one a lanes host serves: methods are case-sensitive, and every host takes the same ${SERVED_METHODS.size} (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, QUERY, PURGE, the WebDAV ones, ...: Node's http.METHODS)`,
  );
}

/**
 * A route of lanes' own asked for with a method it does not take gets 405 naming those it does
 * (RFC 9110, 15.5.6), as a function's route does: `curl .../_lanes/api/deploy` (the admin API)
 * and GET /_lanes/ui/login (the console) got a 404 saying there was no such route. Registered
 * after the route's own handlers, which answer first.
 */
export function otherMethods<E extends Env>(app: Hono<E>, path: string, allow: string): void {
  app.all(path, (c) => {
    throw new LanesError("method_not_allowed", `${c.req.method} is not allowed on ${c.req.path} (allowed: ${allow})`, { headers: { allow } });
  });
}
