/**
 * Which function a request goes to: Hono's own router (the same matching as a Hono app), with
 * the manifest's method lists on top, so a route that matches with the wrong method gives 405
 * and the methods it allows. A function with no method list gets every method a host serves
 * (methods.ts: those Node's parser reads, on every host): PURGE, PROPFIND, REPORT and the like
 * too. A method lanes does not relay at all (CONNECT, TRACE, TRACK: Fetch forbids them, a web
 * Request cannot carry them) is a 405 from the host on every runtime, never a function error,
 * but for a CONNECT to a path on a Deno host: Deno.serve answers it with a bare 400 before lanes
 * sees it (adapters/web-exchange.ts).
 */
import { METHODS } from "../manifest/schema.ts";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { SmartRouter } from "hono/router/smart-router";
import { TrieRouter } from "hono/router/trie-router";
import { tryDecodeURIComponent } from "hono/utils/url";
import { SERVED_METHODS } from "./methods.ts";
import type { Served } from "./served.ts";

export type RouteMatch = { served: Served; params: Record<string, string> } | { allow: string[] } | undefined;

type Found = [[Served, Record<string, number | string>][], unknown[]?];

/** https://fetch.spec.whatwg.org/#forbidden-method: new Request() throws for them, in any case. */
const FORBIDDEN = new Set(["CONNECT", "TRACE", "TRACK"]);

/**
 * What a function with no method list takes, for its 405's Allow (RFC 9110, 15.5.6: the methods
 * the resource supports): every method a host serves but those never relayed, the seven a
 * manifest can list first. It named only those seven, and a client took PURGE or PROPFIND for
 * refused where the function would have had them.
 */
const EVERY_RELAYED: readonly string[] = [...new Set([...METHODS, ...[...SERVED_METHODS].sort()])].filter((m) => !FORBIDDEN.has(m));

export class FunctionRoutes {
  private readonly router = new SmartRouter<Served>({ routers: [new RegExpRouter(), new TrieRouter()] });

  constructor(functions: readonly Served[]) {
    for (const f of functions) this.router.add("ALL", f.spec.route, f);
  }

  /** The first function at `path` that allows `method`; else the methods allowed there; else undefined. */
  match(method: string, path: string): RouteMatch {
    const [found, stash] = this.router.match(method, path) as Found;
    let allow: string[] | undefined;
    const relayed = !FORBIDDEN.has(method.toUpperCase());
    for (const [served, keys] of found) {
      const listed = served.spec.methods;
      if (relayed && (!listed || listed.includes(method as never) || (method === "HEAD" && listed.includes("GET")))) {
        return { served, params: params(keys, stash) };
      }
      (allow ??= []).push(...(listed ?? EVERY_RELAYED));
      if (listed?.includes("GET")) allow.push("HEAD");
    }
    return allow ? { allow: [...new Set(allow)] } : undefined;
  }
}

/** Route parameters, decoded as Hono decodes them (`c.req.param()`). */
function params(keys: Record<string, number | string>, stash: unknown[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in keys) {
    // RegExpRouter gives an index into the stash, TrieRouter the value itself
    const raw = stash ? stash[keys[name] as number] : keys[name];
    if (typeof raw === "string") out[name] = tryDecodeURIComponent(raw);
  }
  return out;
}
