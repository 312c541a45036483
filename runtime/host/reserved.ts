/**
 * lanes' own routes under /_lanes/, as a Hono app: health, metrics, the function list. Every
 * answer carries x-request-id; an unknown /_lanes/ path is a JSON 404 like any other.
 */
import { Hono } from "hono";
import { CONSOLE_OFF } from "../console/pages.ts";
import { errorResponse, LanesError } from "../errors.ts";
import type { HostMetrics } from "../ops/metrics.ts";
import { functionsHealth } from "./function-health.ts";
import type { Served } from "./served.ts";

export interface HostInfo {
  runtime: string;
  version: string;
  rss(): number;
  /** More of the host's state for /_lanes/metrics (packed workers, warm spares). */
  extra?(): Record<string, unknown>;
  /** The start-up load check is still running (Host.loading). */
  loading?(): boolean;
}

type Env = { Variables: { requestId: string } };

export function reservedApp(o: { functions: () => Served[]; host?: HostInfo; dev: boolean; metrics?: HostMetrics }): Hono<Env> {
  const app = new Hono<Env>();
  app.use(async (c, next) => {
    const requestId = crypto.randomUUID();
    c.set("requestId", requestId);
    await next();
    c.res.headers.set("x-request-id", requestId);
  });

  app.get("/_lanes/health", (c) => {
    const { down, starting, reason } = functionsHealth(o.functions(), o.host?.loading?.());
    return c.json({ status: down ? "down" : starting ? "starting" : reason ? "degraded" : "ok", ...(reason ? { reason } : {}) }, down ? 503 : 200);
  });
  // a host without a store is ready once its load check has found a function that can start
  // (before it ends, nobody knows); not while not one of them can
  app.get("/_lanes/ready", (c) => {
    const { down, starting, reason } = functionsHealth(o.functions(), o.host?.loading?.());
    if (down || starting) return c.json({ status: down ? "down" : "starting", reason }, 503, starting ? { "retry-after": "1" } : {});
    return c.json({ status: "ready" });
  });
  // Prometheus' text format, unless the client asks for JSON (what `lanes bench` reads: memory
  // per instance, a worker's being part of the host's)
  app.get("/_lanes/metrics", async (c) => {
    if (o.metrics && !wantsJson(c.req.header("accept"))) {
      return c.body(await o.metrics.text(), 200, { "content-type": o.metrics.contentType });
    }
    return c.json({
      ...(o.host ? { host: { runtime: o.host.runtime, version: o.host.version, rssBytes: o.host.rss() } } : {}),
      ...(o.host?.extra?.() ?? {}),
      functions: o.functions().map(({ spec, pool, deployment }) => ({
        name: spec.name,
        lane: spec.lane,
        runtime: spec.runtime,
        ...(deployment ? { deployment } : {}),
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
    });
  });
  app.get("/_lanes/functions", (c) =>
    c.json({
      functions: o.functions().map(describe),
    }),
  );
  // lanes' own routes exist for GET (and HEAD): another method gets a 405 naming them, as a
  // function's route with a `methods` list does, not a 404 saying nothing is there
  for (const path of ["/_lanes/health", "/_lanes/ready", "/_lanes/metrics", "/_lanes/functions"]) {
    app.all(path, (c) =>
      errorResponse(
        new LanesError("method_not_allowed", `${c.req.method} is not allowed on ${path} (allowed: GET, HEAD)`, { headers: { allow: "GET, HEAD" } }),
        c.get("requestId"),
      ),
    );
  }
  // a host with an admin token has a console in front of this app (runtime/console/)
  app.all("/_lanes/ui/*", (c) => errorResponse(new LanesError("not_found", CONSOLE_OFF), c.get("requestId")));
  app.all("/_lanes/ui", (c) => errorResponse(new LanesError("not_found", CONSOLE_OFF), c.get("requestId")));
  app.notFound((c) => errorResponse(new LanesError("not_found", `no function is routed at ${c.req.path}`), c.get("requestId")));
  app.onError((err, c) => errorResponse(err, c.get("requestId") ?? "", o.dev));
  return app;
}

/** JSON when the Accept header names application/json and not the text format (Prometheus asks for text/plain or OpenMetrics). */
function wantsJson(accept: string | undefined): boolean {
  return accept?.includes("application/json") === true && !/text\/plain|openmetrics/.test(accept);
}

/** One function in /_lanes/functions: where it runs, whether it can serve and why not. */
function describe({ spec, pool, error, version, limits, deployment }: Served) {
  const broken = error ?? (pool && pool.live() === 0 ? pool.startError : undefined);
  return {
    name: spec.name,
    route: spec.route,
    methods: spec.methods ?? "*",
    lane: spec.lane,
    runtime: spec.runtime,
    version,
    ...(deployment ? { deployment } : {}),
    status: broken ? "broken" : "ok",
    ...(broken ? { error: broken.guestStack ? `${broken.message}: ${broken.guestStack.split("\n")[0]}` : broken.message } : {}),
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
  };
}
