/**
 * What every console answer carries, and what every state-changing request must show.
 *
 * A request that changes something (log in, log out, promote, roll back) must come from a page
 * of the console's origin: its `Sec-Fetch-Site` says `same-origin` and its `Origin` is the host's
 * own, over http or through a TLS proxy over https (an origin that is the console's alone only with --console-host: host/console-host.ts); a request with neither header is refused too (every browser that can hold the session
 * cookie sends one of them on a POST). On top of that the session cookie is SameSite=Strict (a
 * page of another site cannot send it) and a logged-in request carries the session's CSRF token.
 * https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html
 */
import { LanesError } from "../errors.ts";

/** No inline script or style, nothing from another origin, no framing, forms only to the host. */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
  // not no-referrer: with it, Chromium sends "Origin: null" on the console's own form posts
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-store",
};

/** Throws 403 unless `request` comes from a page of this host. */
export function checkSameOrigin(request: Request): void {
  const site = request.headers.get("sec-fetch-site");
  const origin = request.headers.get("origin");
  if (site === null && origin === null) {
    throw new LanesError("forbidden", "the console refuses a request that changes something without an Origin or Sec-Fetch-Site header (send it from the console's page)");
  }
  if (site !== null && site !== "same-origin") {
    throw new LanesError("forbidden", `the console refuses a cross-site request (Sec-Fetch-Site: ${site.slice(0, 20)})`);
  }
  if (origin !== null && !ownOrigin(origin, request)) {
    throw new LanesError("forbidden", `the console refuses a request from another origin (Origin: ${origin.slice(0, 100)})`);
  }
}

/**
 * Throws 403 when a page of another origin asks for the console's data or live stream: its
 * `Sec-Fetch-Site` says `same-site` or `cross-site`. The SameSite=Strict cookie keeps out other
 * sites only: a page on a sibling name of the same site (a function's page on fn.example.com
 * beside the console's lanes-admin.example.com, or another port of 127.0.0.1) sends it, and its
 * EventSources held the session's live streams (the console's own got 429) and its reads kept
 * the session from going idle. The console's script asks from its own origin; an address typed
 * or bookmarked says `none`; a client without the header is no browser holding the cookie.
 * https://web.dev/articles/fetch-metadata
 */
export function checkSameSite(request: Request): void {
  const site = request.headers.get("sec-fetch-site");
  if (site === "same-site" || site === "cross-site") {
    throw new LanesError("forbidden", `the console answers its own pages only (Sec-Fetch-Site: ${site})`);
  }
}

/**
 * `origin` is this host's: http://HOST, or https://HOST behind a proxy that ends TLS and passes
 * the Host header on (Caddy's reverse_proxy does; nginx with proxy_set_header Host $host). The
 * host itself speaks plain http only, so whoever serves https://HOST is that proxy.
 */
function ownOrigin(origin: string, request: Request): boolean {
  const host = new URL(request.url).host;
  return origin === `http://${host}` || origin === `https://${host}`;
}

/** The browser's page is on https (its Origin says so): the session cookie then goes over https only. */
export function overHttps(request: Request): boolean {
  return request.headers.get("origin")?.startsWith("https://") === true;
}
