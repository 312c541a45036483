/**
 * What the host's router makes of a route, checked when the manifest is: Hono compiles a
 * `:name{...}` part into a regular expression only when it first matches a request, so a broken
 * one would otherwise throw on every request to every function of the host.
 */
import { RegExpRouter } from "hono/router/reg-exp-router";
import { SmartRouter } from "hono/router/smart-router";
import { TrieRouter } from "hono/router/trie-router";
import { checkOptionalParameter } from "hono/utils/url";

/** Why the host's router cannot match `route`, or undefined when it can (the same routers as runtime/host/routes.ts). */
export function routePatternProblem(route: string): string | undefined {
  const router = new SmartRouter<number>({ routers: [new RegExpRouter(), new TrieRouter()] });
  router.add("ALL", route, 0);
  try {
    router.match("GET", "/");
    return undefined;
  } catch (e) {
    return `the part in {...} must be a valid regular expression: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** The paths a route stands for: an optional last parameter (`/a/:id?`) also matches without it (`/a`), as Hono does. */
export function routeForms(route: string): string[] {
  return checkOptionalParameter(route) ?? [route];
}
