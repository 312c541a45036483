/**
 * DNS rebinding: a page on evil.com whose name the attacker then points at 127.0.0.1 reaches a
 * host on loopback from the operator's own browser, as evil.com's own origin (no CORS in the
 * way). It read /_lanes/metrics and /_lanes/functions (open on loopback) and sent wrong tokens
 * that the admin throttle counted against 127.0.0.1, refusing the operator's console and deploys
 * for up to a minute at a time. So a host listening on a loopback address answers lanes' own
 * routes only for a Host that names this machine (localhost, *.localhost, 127.0.0.0/8, [::1];
 * any port), the `--console-host` name, or a request a trusted proxy (`--trust-proxy`) hands on
 * with X-Forwarded-For (its Host is the public name the proxy serves); any other gets 403 before
 * a token is read or counted, as webpack-dev-server's allowedHosts and Jupyter do. A function's
 * routes are left alone: a function decides what a Host means to it.
 */
import type { HttpHandler } from "../../adapters/types.ts";
import { errorResponse, LanesError } from "../errors.ts";
import { isLoopback } from "./admin-auth.ts";
import { type TrustedProxies, unmapped } from "./client-address.ts";
import { requestHostName } from "./console-host.ts";

export const MISDIRECTED_HOST =
  "this host listens on a loopback address and answers /_lanes/ only for a Host naming this machine (localhost, *.localhost, 127.0.0.1, [::1]), its --console-host name, or a request a --trust-proxy proxy hands on with X-Forwarded-For (a guard against DNS rebinding)";

/** Whether a URL's host name (as URL gives it: lower-case, IPv6 in brackets) names this machine. */
export function isLoopbackName(hostname: string): boolean {
  const h = hostname.endsWith(".") ? hostname.slice(0, -1) : hostname;
  return h === "localhost" || h.endsWith(".localhost") || isLoopback(h);
}

/** `handler` with lanes' own routes refused to other names when `hostname` (where it listens) is loopback. */
export function guardOwnRoutes(handler: HttpHandler, o: { hostname: string; consoleHost?: string; trustedProxies?: TrustedProxies }): HttpHandler {
  if (!isLoopback(o.hostname)) return handler;
  return {
    fast: (ex) => handler.fast(ex),
    // every request fast() declines is for lanes' own routes (a function's is always fast's)
    web: (request, ex) => {
      const name = requestHostName(ex);
      const allowed =
        isLoopbackName(name) || name === o.consoleHost || (ex.header("x-forwarded-for") !== undefined && o.trustedProxies?.has(unmapped(ex.remoteAddress())) === true);
      if (allowed) return handler.web(request, ex);
      return errorResponse(new LanesError("forbidden", `${MISDIRECTED_HOST} (got ${JSON.stringify(name.slice(0, 64))})`), crypto.randomUUID());
    },
  };
}
