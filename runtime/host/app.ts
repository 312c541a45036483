/**
 * The host's Hono app: reserved /_lanes/ routes, one route per function, 404/405 as JSON,
 * `x-request-id` on every response. Requests are turned into plain frames here and handed to
 * the function's pool.
 */
import { Hono, type Context } from "hono";
import type { RequestInfo } from "../../adapters/types.ts";
import { errorResponse, LanesError } from "../errors.ts";
import type { Compiled } from "../compile.ts";
import type { FunctionSpec } from "../manifest/load.ts";
import type { Pool } from "../pool/pool.ts";
import { statusTextOf } from "../pool/status-text.ts";
import { readBody } from "./body.ts";

export interface Served {
  spec: FunctionSpec;
  /** Absent when the function failed to compile: it answers 503 with `error`. */
  pool?: Pool;
  error?: LanesError;
  version: string;
  limits: unknown;
  /** The bundle and the source files it was built from (watched by `lanes dev`). */
  compiled?: Compiled;
  /** Requests inside `invoke` now: a reload stops the old pool only once this is 0. */
  active: number;
}

export interface AppOptions {
  functions: () => Served[];
  dev: boolean;
  onRequest?: (entry: RequestLog) => void;
  /** `lanes dev`: maps a guest stack to the user's source files before it is sent. */
  mapStack?: (stack: string) => string;
  /** The host process, for /_lanes/metrics. */
  host?: { runtime: string; version: string; rss(): number };
}

export interface RequestLog {
  method: string;
  path: string;
  fn: string | undefined;
  lane: string | undefined;
  status: number;
  ms: number;
  requestId: string;
}

type Env = { Variables: { requestId: string; allow: string[]; served: Served; stamped: boolean } };

export function createApp(o: AppOptions): Hono<Env> {
  const app = new Hono<Env>();

  app.use(async (c, next) => {
    const requestId = crypto.randomUUID();
    c.set("requestId", requestId);
    const started = performance.now();
    await next();
    // a function's response carries it already (the pool stamps it): touching c.res.headers
    // would make the Node server build a Headers object for every response
    if (!c.get("stamped")) c.res.headers.set("x-request-id", requestId);
    o.onRequest?.({
      method: c.req.method,
      path: c.req.path,
      fn: c.get("served")?.spec.name,
      lane: c.get("served")?.spec.lane,
      status: c.res.status,
      ms: performance.now() - started,
      requestId,
    });
  });

  app.get("/_lanes/health", (c) => c.json({ status: "ok" }));
  // What `lanes bench` and operators read: memory per instance (a worker's is part of the host's).
  app.get("/_lanes/metrics", (c) =>
    c.json({
      ...(o.host ? { host: { runtime: o.host.runtime, version: o.host.version, rssBytes: o.host.rss() } } : {}),
      functions: o.functions().map(({ spec, pool }) => ({
        name: spec.name,
        lane: spec.lane,
        runtime: spec.runtime,
        handled: pool?.handled ?? 0,
        restarts: pool?.restarts ?? 0,
        leaked: pool?.leaked ?? 0,
        instances: (pool?.instances ?? []).map((i) => ({
          id: i.id,
          state: i.state,
          inflight: i.inflight,
          ageMs: Date.now() - i.startedAt,
          rssBytes: i.rss() ?? null,
        })),
      })),
    }),
  );
  app.get("/_lanes/functions", (c) =>
    c.json({
      functions: o.functions().map(({ spec, pool, error, version, limits }) => ({
        name: spec.name,
        route: spec.route,
        methods: spec.methods ?? "*",
        lane: spec.lane,
        runtime: spec.runtime,
        version,
        status: error ? "broken" : "ok",
        ...(error ? { error: error.message } : {}),
        instances: pool
          ? {
              ready: pool.live(),
              busy: pool.instances.filter((i) => i.inflight > 0).length,
              idle: pool.instances.filter((i) => i.state === "ready" && i.inflight === 0).length,
            }
          : { ready: 0, busy: 0, idle: 0 },
        restarts: pool?.restarts ?? 0,
        // instances stopped in a CPU loop whose thread kept running (Deno workers)
        leaked: pool?.leaked ?? 0,
        limits,
      })),
    }),
  );

  for (const served of o.functions()) {
    const { spec } = served;
    app.all(spec.route, async (c, next) => {
      const method = c.req.method;
      const allowed = spec.methods;
      if (allowed && !allowed.includes(method as never) && !(method === "HEAD" && allowed.includes("GET"))) {
        c.set("allow", [...(c.get("allow") ?? []), ...allowed]);
        return next();
      }
      if (o.onRequest) c.set("served", served);
      return invoke(c, served, o.dev, o.mapStack);
    });
  }

  app.notFound((c) => {
    const requestId = c.get("requestId");
    const allow = c.get("allow");
    if (allow?.length) {
      const methods = [...new Set(allow)].join(", ");
      return errorResponse(
        new LanesError("method_not_allowed", `${c.req.method} is not allowed on ${c.req.path} (allowed: ${methods})`, {
          headers: { allow: methods },
        }),
        requestId,
      );
    }
    return errorResponse(new LanesError("not_found", `no function is routed at ${c.req.path}`), requestId);
  });

  app.onError((err, c) => errorResponse(err, c.get("requestId") ?? "", o.dev));
  return app;
}

async function invoke(c: Context<Env>, served: Served, dev: boolean, mapStack?: (s: string) => string): Promise<Response> {
  const { spec, pool } = served;
  const requestId = c.get("requestId");
  const deadline = Date.now() + spec.timeoutMs;
  served.active++; // synchronously, before any await: a reload that swaps routes next tick sees it
  try {
    if (!pool) throw served.error ?? new LanesError("unavailable", `function "${spec.name}" is not available`);
    const req = c.req.raw;
    const method = req.method;
    pool.admit(); // a full function refuses before its body is read
    const body = method === "GET" || method === "HEAD" ? null : await readBody(req, spec.maxBodyBytes, spec.name);
    const info = c.env as Partial<RequestInfo> | undefined;
    const res = await pool.dispatch(
      { requestId, method, url: req.url, headers: headerPairs(info, req), body, params: c.req.param() },
      deadline,
      { watch: info?.onClientGone ?? watchSignal(req.signal), ...(info?.cutBody ? { cutBody: info.cutBody } : {}) },
    );
    c.set("stamped", true);
    const text = statusTextOf(res);
    if (text) info?.statusText?.(text);
    return res;
  } catch (e) {
    return errorResponse(dev && mapStack ? withMappedStack(e, mapStack) : e, requestId, dev);
  } finally {
    served.active--;
  }
}

function withMappedStack(e: unknown, mapStack: (s: string) => string): unknown {
  if (!(e instanceof LanesError) || !e.guestStack) return e;
  return new LanesError(e.code, e.message, { headers: e.headers, guestStack: mapStack(e.guestStack), cause: e });
}

/** A client watch over a Request's signal, for servers that abort it when the client goes away (Deno.serve). */
function watchSignal(signal: AbortSignal) {
  return (gone: () => void) => {
    if (signal.aborted) {
      gone();
      return () => {};
    }
    signal.addEventListener("abort", gone, { once: true });
    return () => signal.removeEventListener("abort", gone);
  };
}

/** The request headers as pairs: from the adapter when it has them without building a Headers. */
function headerPairs(info: Partial<RequestInfo> | undefined, req: Request): [string, string][] {
  return info?.headerPairs ? info.headerPairs() : ([...req.headers] as [string, string][]);
}
