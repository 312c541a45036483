/**
 * The oracle's side of the differential suite: call a function's export in-process with a
 * Request built the way the client's request arrives, and record what it answered. Runs in a
 * bare process of each runtime (oracle-main.ts), with nothing of lanes loaded.
 */
import { Buffer } from "node:buffer";
import { requestHeaders, type RequestSpec } from "./raw-client.ts";

export type Outcome =
  | { kind: "response"; status: number; statusText: string; headers: [string, string][]; body: string; cut: boolean }
  | { kind: "threw"; message: string }
  | { kind: "not-response"; what: string }
  | { kind: "network-error" };

type Handler = { fetch(request: Request, env: Record<string, string>, ctx: unknown): unknown };

export async function callInProcess(mod: Handler, base: string, spec: RequestSpec): Promise<Outcome> {
  const url = new URL(base);
  const waits: Promise<unknown>[] = [];
  const request = new Request(`${url.origin}${spec.target}`, {
    method: spec.method,
    headers: requestHeaders(url.host, spec),
    body: (spec.body ?? null) as BodyInit | null,
  });
  const ctx = { waitUntil: (p: Promise<unknown>) => void waits.push(p), passThroughOnException() {}, params: {} };
  let result: unknown;
  try {
    result = await mod.fetch(request, {}, ctx);
  } catch (e) {
    return { kind: "threw", message: (e as Error).message };
  } finally {
    await Promise.allSettled(waits);
  }
  if (!(result instanceof Response)) return { kind: "not-response", what: describe(result) };
  if (result.type === "error") return { kind: "network-error" };
  // the head first, as a server sends it: Bun drops a body-derived content-type from a
  // Response whose body was read before its headers (oven-sh/bun#42015)
  const head = { status: result.status, statusText: result.statusText, headers: [...result.headers] as [string, string][] };
  const { body, cut } = await readAll(result);
  return { kind: "response", ...head, body: Buffer.from(body).toString("base64"), cut };
}

/** The body as a client would get it: what was produced before a failing stream broke, and that it broke. */
async function readAll(res: Response): Promise<{ body: Uint8Array; cut: boolean }> {
  if (!res.body) return { body: new Uint8Array(0), cut: false };
  const parts: Uint8Array[] = [];
  const reader = res.body.getReader();
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      parts.push(r.value);
    }
  } catch {
    return { body: Buffer.concat(parts), cut: true };
  }
  return { body: Buffer.concat(parts), cut: false };
}

/** How the guest names a value that is not a Response (runtime/guest/handler.ts `describe`). */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}
