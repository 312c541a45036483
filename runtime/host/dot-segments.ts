/**
 * A dot segment ("/./", "/../", also spelled "%2e") or a backslash makes a request target name
 * another path than it spells: the function's Request resolves it (WHATWG URL), so the host
 * routes by the resolved path, the one the function and lanes' own routes will see (Cloudflare
 * routes the same way). Routed as spelled, `/echo/../_lanes/functions` reached the function at
 * /echo/* as a request for /_lanes/functions, a path no function may have.
 */
const UNRESOLVED = /\/(?:\.|%2e)|\\/i;

/** `url` with its path resolved, or `url` itself when it has nothing to resolve (most requests: no URL is parsed). */
export function resolved(url: string): string {
  if (!UNRESOLVED.test(url)) return url;
  try {
    return new URL(url).href;
  } catch {
    return url; // the function's Request cannot be built from it either: invoke() answers it
  }
}

/** The path of a request target (origin-form, "/..."), resolved as `resolved` resolves it, without its query. */
export function resolvedPath(target: string): string {
  const q = target.indexOf("?");
  const path = q === -1 ? target : target.slice(0, q);
  if (!UNRESOLVED.test(path)) return path;
  try {
    return new URL(`http://h${path}`).pathname; // not new URL(path, base): "//a/.." would name a host
  } catch {
    return path;
  }
}
