/**
 * `--console-host NAME`: the console on an origin of its own. A function's page served on the
 * console's origin is the console as far as a browser knows (same Origin, same Sec-Fetch-Site,
 * the SameSite=Strict cookie, the CSRF token read from the console's page): it could act as the
 * operator who opens it. With NAME, requests for NAME get the console and lanes' own routes only,
 * and every other name gets no console.
 */
import type { Exchange } from "../../adapters/types.ts";

/** Letters, digits and hyphens in dot-separated labels, at most 253 characters: a DNS name or an IPv4 address. */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export const CONSOLE_HOST_RULE = "must be a host name: letters, digits, dots and hyphens, no scheme, no port, no path (e.g. admin.localhost)";

/** NAME lower-cased, or undefined when it is not a host name. */
export function consoleHostName(value: string): string | undefined {
  return HOST_NAME.test(value) ? value.toLowerCase() : undefined;
}

/**
 * The host name a request is for, lower-cased, without its port: what its origin is, as the
 * browser that sent it sees it. "" when it names none.
 */
export function requestHostName(ex: Exchange): string {
  // the host of the URL the request names, which its function would see: an absolute-form
  // target's own (Host is then ignored, RFC 9112 3.2.2), else Host's. Read from the URL on every
  // runtime: Deno.serve's Request has only the URL, and the Host header there named another host
  // than the URL when a target was absolute-form (a function saw http://NAME/... on the console's NAME)
  try {
    return new URL(ex.url()).hostname;
  } catch {
    return "";
  }
}

export const CONSOLE_ELSEWHERE = "the console is not served on this host name: it has a host name of its own (--console-host)";
export const CONSOLE_ONLY = "this host name serves the console only (--console-host): functions answer on the host's other names";
