/**
 * The three shapes a function module may export (DESIGN.md): `export default { fetch }`,
 * `export default (request, env, ctx) => Response`, or a Hono app (it has `.fetch`).
 */
export type FetchHandler = (request: Request, env: Record<string, string>, ctx: unknown) => unknown;

export function resolveHandler(mod: Record<string, unknown>, name: string): FetchHandler {
  const d = mod.default as { fetch?: unknown } | undefined;
  const fetch = (d as { fetch?: unknown } | undefined)?.fetch;
  if (typeof d === "function" && typeof fetch !== "function") return d as FetchHandler;
  if (d && typeof fetch === "function") {
    const target = d;
    return (request, env, ctx) => (fetch as FetchHandler).call(target, request, env, ctx);
  }
  const got = d === undefined ? "no default export" : `a default export of type ${typeof d}`;
  throw new Error(
    `function "${name}": the module has ${got}. Export a fetch handler: ` +
      "`export default { fetch(request, env, ctx) { return new Response('hi') } }`",
  );
}

export function isResponse(value: unknown): value is Response {
  return value instanceof Response;
}

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}
