/**
 * What the host's router makes of a route, checked when the manifest is: Hono compiles a
 * `:name{...}` part into a regular expression only when it first matches a request, so a broken
 * one would otherwise throw on every request to every function of the host. One that can take
 * seconds to fail on a long path is refused too (route-regex.ts).
 */
import { RegExpRouter } from "hono/router/reg-exp-router";
import { SmartRouter } from "hono/router/smart-router";
import { TrieRouter } from "hono/router/trie-router";
import { checkOptionalParameter } from "hono/utils/url";
import { slowRouteProblem } from "./route-regex.ts";

/** Why the host's router cannot match `route`, or undefined when it can (the same routers as runtime/host/routes.ts). */
export function routePatternProblem(route: string): string | undefined {
  const router = new SmartRouter<number>({ routers: [new RegExpRouter(), new TrieRouter()] });
  router.add("ALL", route, 0);
  try {
    router.match("GET", "/");
  } catch (e) {
    return `the part in {...} must be a valid regular expression: ${e instanceof Error ? e.message : String(e)}`;
  }
  return queryOrFragment(route) ?? repeatedParameter(route) ?? slowRouteProblem(route);
}

/**
 * A route's parts ("/"-separated) without their `{...}` patterns, braces counted (a pattern may
 * hold `{1,}` and `/`): `/r/:id{[0-9]+}/:x?` gives "r", ":id", ":x?".
 */
function bareParts(route: string): string[] {
  let depth = 0;
  let bare = "";
  for (const c of route) {
    if (c === "{") depth++;
    else if (c === "}") depth = Math.max(0, depth - 1);
    else if (depth === 0) bare += c;
  }
  return bare.split("/");
}

/**
 * A "?" or "#" outside a `{...}` part and an optional parameter's marker (`/a/:id?`): a request's
 * path never holds one (they start its query and fragment), so `/a?x=1` or `/a#top` was accepted
 * and never reached.
 */
function queryOrFragment(route: string): string | undefined {
  for (const part of bareParts(route)) {
    const marker = part.startsWith(":") && part.endsWith("?") ? 1 : 0;
    if (/[?#]/.test(part.slice(0, part.length - marker))) {
      return 'a route is matched against the request\'s path, which never holds a "?" (it starts the query) or a "#" (the fragment): take it out';
    }
  }
  return undefined;
}

/**
 * A parameter named twice (`/a/:id/:id`): the router hands the function one value under that
 * name, and the other part of the path is lost without a word (Hono gives the first).
 */
function repeatedParameter(route: string): string | undefined {
  const seen = new Set<string>();
  for (const part of bareParts(route)) {
    if (!part.startsWith(":")) continue;
    const name = part.slice(1).replace(/\?$/, "");
    if (seen.has(name)) return `the parameter ":${name}" is named twice, and the function would get one of its two values: give each parameter its own name`;
    seen.add(name);
  }
  return undefined;
}

/** The paths a route stands for: an optional last parameter (`/a/:id?`) also matches without it (`/a`), as Hono does. */
export function routeForms(route: string): string[] {
  return checkOptionalParameter(route) ?? [route];
}

/** A function as the router sees it: its route and the methods it answers. */
export interface Routed {
  name: string;
  route: string;
  methods: readonly string[];
}

/**
 * Functions at a plain path (no parameter, no wildcard) that an earlier function's pattern
 * answers first for every method they take, so that they are never reached: `/:name` before `/b`
 * took all of `/b`'s requests. The host's routers decide, in the manifest's order.
 */
export function shadowedRoutes(fns: readonly Routed[]): string[] {
  const router = new SmartRouter<number>({ routers: [new RegExpRouter(), new TrieRouter()] });
  for (const [i, f] of fns.entries()) router.add("ALL", f.route, i);
  const out: string[] = [];
  for (const f of fns) {
    if (/[:*]/.test(f.route)) continue; // only called once every route compiles (load.ts)
    const firsts = f.methods.map((method) => {
      const [found] = router.match(method, f.route) as unknown as [[number, unknown][]];
      return found.map(([j]) => fns[j]!).find((g) => g.methods.includes(method));
    });
    // reached for no method it takes: each goes to another function first
    const by = firsts.every((g) => g !== f) ? firsts.find((g) => g !== undefined) : undefined;
    if (by)
      out.push(
        `functions.${f.name}.route: ${JSON.stringify(f.route)} is never reached: function "${by.name}" (${JSON.stringify(by.route)}), earlier in the manifest, answers it first`,
      );
  }
  return out;
}
