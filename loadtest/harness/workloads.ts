/**
 * What the bench sends to each function. A function file may export `bench` to say it (the
 * reference workloads in loadtest/ do); otherwise the bench sends a GET (or the first allowed
 * method) to its route with route parameters filled in, and expects a 2xx.
 *
 *   export const bench = { method: "POST", path: "/body", bodyBytes: 262144,
 *                          check: (status, body, sent) => undefined | "what was expected" };
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { compile } from "../../runtime/compile.ts";
import type { FunctionSpec } from "../../runtime/manifest/load.ts";

export type Check = (status: number, body: Uint8Array, sent?: Uint8Array) => string | undefined;

export interface BenchHints {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  bodyBytes?: number;
  check?: Check;
}

export interface Workload {
  name: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  check: Check;
}

const any2xx: Check = (status) => (status >= 200 && status < 300 ? undefined : `expected a 2xx, got ${status}`);

export async function workloadFor(spec: FunctionSpec, adapter: RuntimeAdapter): Promise<Workload> {
  const hints = await hintsOf(spec, adapter);
  const method = hints.method ?? (spec.methods === null || spec.methods.includes("GET") ? "GET" : spec.methods[0]!);
  const body = hints.bodyBytes ? patternBytes(hints.bodyBytes) : undefined;
  return {
    name: spec.name,
    method,
    path: hints.path ?? pathFor(spec.route),
    headers: { ...(body ? { "content-type": "application/octet-stream" } : {}), ...hints.headers },
    body,
    check: hints.check ?? any2xx,
  };
}

/** The function's `bench` export, read from the same bundle the host loads. */
async function hintsOf(spec: FunctionSpec, adapter: RuntimeAdapter): Promise<BenchHints> {
  const bundle = await compile(spec.entry, adapter.sys, spec.name);
  const mod = (await import(adapter.sys.fileUrl(bundle.file))) as { bench?: BenchHints };
  return mod.bench ?? {};
}

/** A concrete path for a Hono route: `/users/:id` -> `/users/bench`, optional parts and `*` dropped. */
export function pathFor(route: string): string {
  const path = route
    .replace(/\/:[A-Za-z0-9_]+(\{[^}]*\})?\?/g, "")
    .replace(/:[A-Za-z0-9_]+(\{[^}]*\})?/g, "bench")
    .replace(/\/\*$/, "/")
    .replace(/\*/g, "bench");
  return path || "/";
}

/**
 * Printable ASCII in a pattern, the same each run. Not every byte value: autocannon turns each
 * answer's body into a string (`req.body += data`, lib/pipelinedRequestsQueue.js), and decoding
 * 256 KiB of arbitrary bytes as UTF-8 cost it 3.1-3.3 ms a request against 1.3-1.5 ms for ASCII,
 * so with a binary `body` its one thread ran out at about 300 req/s, before the host did, and the
 * cells measured autocannon (../README.md, The hot path). The lanes move bytes without
 * looking at them; test/body-reuse.test.ts checks that every byte value crosses.
 */
function patternBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = 0x21 + ((i * 31 + 7) % 94);
  return b;
}
