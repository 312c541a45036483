/**
 * The shapes a function module may take: `export default { fetch }`,
 * `export default (request, env, ctx) => Response`, a Hono app (it has `.fetch`), or the
 * service-worker style (no default export, `addEventListener("fetch", ...)`, service-worker.ts).
 */
import { serviceWorkerHandler } from "./service-worker.ts";

export type FetchHandler = (request: Request, env: Record<string, string>, ctx: unknown) => unknown;

/** `fetchListeners`: the "fetch" listeners the module added while it loaded. */
export function resolveHandler(mod: Record<string, unknown>, name: string, fetchListeners: ((e: Event) => unknown)[] = []): FetchHandler {
  const d = mod.default as { fetch?: unknown } | undefined;
  const fetch = (d as { fetch?: unknown } | undefined)?.fetch;
  if (typeof d === "function" && typeof fetch !== "function") return d as FetchHandler;
  if (d && typeof fetch === "function") {
    const target = d;
    return (request, env, ctx) => (fetch as FetchHandler).call(target, request, env, ctx);
  }
  if (fetchListeners.length > 0) return serviceWorkerHandler(fetchListeners);
  const got = d === undefined ? "no default export" : `a default export of type ${typeof d}`;
  throw new Error(
    `function "${name}": the module has ${got} and adds no "fetch" listener. Export a fetch handler: ` +
      "`export default { fetch(request, env, ctx) { return new Response('hi') } }`, " +
      "or add a listener: `addEventListener(\"fetch\", (event) => event.respondWith(new Response('hi')))`",
  );
}

/**
 * The function's answer as a Response a server can send, or the error that says why it is not:
 * another value, or a network error (`Response.error()`, status 0), which has no HTTP form.
 */
export function sendable(value: unknown): Response {
  if (!(value instanceof Response)) throw new Error(`the function returned ${describe(value)}, not a Response`);
  if (value.type === "error") throw new Error("the function returned Response.error(), a network error: it has no HTTP response to send");
  return value;
}

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}
