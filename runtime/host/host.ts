/**
 * Starts a host: load the manifest, compile the guests and the functions, start a pool per
 * function in its lane, serve HTTP. Returns a handle to stop it all.
 */
import type { HttpHandler, RunningServer, RuntimeAdapter } from "../../adapters/types.ts";
import { limitsFor, limitWarnings } from "../capabilities.ts";
import { compile } from "../compile.ts";
import { LanesError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { loadManifest, type FunctionSpec, type Manifest } from "../manifest/load.ts";
import { lanes, type LaneContext } from "../lanes/mod.ts";
import { isolationReport } from "../isolation.ts";
import { HostMetrics } from "../ops/metrics.ts";
import { startSpanExport, type SpanExport } from "../ops/otel.ts";
import { Pool } from "../pool/pool.ts";
import { adjusted, inspectedModule } from "../dev/inspect.ts";
import { functionEnv, NO_SECRETS_HERE, type SecretEnv, type SecretValues } from "../secrets/values.ts";
import { SharedStore } from "../shared/store.ts";
import type { RecentRequests } from "../console/recent.ts";
import { createHandler } from "./handler.ts";
import type { RequestLog, Served } from "./served.ts";

export interface HostOptions {
  dir: string;
  port: number;
  hostname: string;
  dev: boolean;
  adapter: RuntimeAdapter;
  log: Logger;
  onRequest?: (entry: RequestLog) => void;
  /** `lanes dev`: turns a guest stack into one that points at the user's files. */
  mapStack?: (stack: string) => string;
  /** Load every function once before serving, and refuse to start if one cannot. */
  strict?: boolean;
  /** Count requests for /_lanes/metrics (default true; `--no-metrics` turns it off). */
  metrics?: boolean;
  /** Export a span per request to this OTLP/HTTP endpoint (runtime/ops/otel.ts). */
  otlpEndpoint?: string;
  /** The deployed version `dir` holds (a deploy store's): the functions' `version` label, else their bundle hash. */
  version?: string;
  /** Answers every request in front of the host's own handler (deployments, admin API, tokens). */
  front?: Front;
  /** The console is on: each function's requests go to its feed here (runtime/console/recent.ts). */
  recent?: RecentRequests;
  /** The secret values functions get now (a deploy store's, or `lanes dev`'s local files); none: this host keeps no secrets. */
  secrets?: () => SecretValues;
  /** `lanes dev --inspect`: the specs as the manifest gives them, made debuggable (runtime/dev/inspect.ts). */
  adjust?: (spec: FunctionSpec) => FunctionSpec;
}

export interface Front {
  /** The handler the server calls; `own()` is the host's handler over `Host.functions` now. */
  handler(own: () => HttpHandler): HttpHandler;
}

export interface Host {
  manifest: Manifest;
  server: RunningServer;
  url: string;
  metrics: HostMetrics;
  /** The functions served now (replaced by `route`). */
  functions: Served[];
  /** Settles once every function has been loaded once (in the background after start-up): the broken ones. */
  checked: Promise<Served[]>;
  /**
   * Compile a function and give it a pool with this host's lanes and shared stores; starts no
   * instance. `version`: the deployed version it belongs to, its metrics label (default: its
   * bundle hash). Its secrets come from `values` (default: the host's current ones).
   */
  build(spec: FunctionSpec, poolLog?: Logger, version?: string, values?: SecretValues): Promise<Served>;
  /** The request handler the server calls now (replaced by `route`). */
  currentHandler(): HttpHandler;
  /** Serve `functions` from now on; requests already in flight finish on what they started with. */
  route(functions: Served[], manifest: Manifest): void;
  /** A handler over `functions` as the host builds its own, with its own request hook and deployed version. */
  router(functions: Served[], onRequest?: (entry: RequestLog) => void, version?: string): HttpHandler;
  stop(graceMs?: number): Promise<void>;
}

/** Longest wait for ctx.shared's lock on the host's main thread before shared_busy (see storeFor). */
const HOST_LOCK_TIMEOUT_MS = 250;

/** Where the guest entry points live, as paths (no node:url in the core). */
function sourcePath(relative: string): string {
  return decodeURIComponent(new URL(relative, import.meta.url).pathname);
}

export async function compileGuests(adapter: RuntimeAdapter) {
  const [worker, child] = await Promise.all([
    compile(sourcePath("../guest/worker-main.ts"), adapter.sys, "guest-worker"),
    compile(sourcePath("../guest/child-main.ts"), adapter.sys, "guest-child"),
  ]);
  return { worker: worker.file, child: child.file };
}

export async function startHost(o: HostOptions): Promise<Host> {
  const { adapter, log } = o;
  const manifest = adjusted(await loadManifest(o.dir, adapter.sys, adapter.name), o.adjust);
  for (const w of manifest.warnings) log.warn(w);
  const isolation = isolationReport(manifest.functions, adapter);
  if (isolation.errors.length > 0) throw new LanesError("sandbox_unavailable", `${manifest.file}: ${isolation.errors.join("\n  ")}`);
  for (const w of isolation.warnings) log.warn(w);
  const guests = await compileGuests(adapter);
  const stores = new Map<string, SharedStore>();
  const storeFor = (spec: FunctionSpec) => {
    let s = stores.get(spec.shared);
    // The host serves process-lane ctx.shared calls on its main thread: it must not sit in
    // lock() for long. Holders are live workers (microseconds); a worker that died holding the
    // lock is recovered on its exit event, which cannot run while this thread waits.
    if (!s) stores.set(spec.shared, (s = SharedStore.create({ lockTimeoutMs: HOST_LOCK_TIMEOUT_MS })));
    return s;
  };
  const laneCtx: LaneContext = { adapter, log, guests, sharedStore: storeFor };
  let functions: Served[] = [];
  const metrics = new HostMetrics(
    { functions: () => functions, stores: () => stores, runtime: adapter.name, version: adapter.version, rss: () => adapter.hostRss(), cpu: () => adapter.hostCpu() },
    o.metrics ?? true,
  );
  const spans: SpanExport | undefined = o.otlpEndpoint ? await startSpanExport(o.otlpEndpoint, { runtime: adapter.name, version: adapter.version }) : undefined;

  /** Compile one function and give it a pool in its lane (no instance started yet). */
  const build = async (spec: FunctionSpec, poolLog: Logger = log, version?: string, values = o.secrets?.()): Promise<Served> => {
    const limits = limitsFor(spec, adapter);
    let secret: SecretEnv;
    try {
      secret = functionEnv(spec, values, NO_SECRETS_HERE);
    } catch (e) {
      return withoutSecret(spec, limits, e as LanesError);
    }
    try {
      const bundle = await compile(spec.entry, adapter.sys, spec.name, { sourcesContent: spec.inspect === true });
      const store = storeFor(spec);
      const meter = metrics.meterFor({ function: spec.name, lane: spec.lane, runtime: spec.runtime, version: version ?? o.version ?? bundle.hash });
      const pool = new Pool(spec, {
        spawn: () => lanes[spec.lane].spawn(spec, laneCtx, bundle.file),
        // secrets go in the load call only, never in a process's environment block (/proc/PID/environ)
        load: { name: spec.name, lane: spec.lane, bundleUrl: adapter.sys.fileUrl(inspectedModule(spec, bundle.file)), env: secret.env, dev: o.dev },
        log: poolLog,
        // values go to the store as the function passed them: it checks types the same way in
        // both lanes (a string delta or a numeric value is refused, not coerced)
        shared: (op, key, value) => {
          if (op === "add") return store.add(key, value as number);
          if (op === "get") return store.get(key) ?? null;
          store.set(key, value as string);
          return undefined;
        },
        stopsSpin: limits.cpuSpin === "enforced",
        ...(meter ? { observer: meter } : {}),
      });
      return { spec, pool, version: bundle.hash, limits, compiled: bundle, active: 0, secretStamp: secret.stamp, ...(meter ? { meter } : {}) };
    } catch (e) {
      const error = e instanceof LanesError ? e : new LanesError("unavailable", String(e));
      return {
        spec,
        // clients get no source path or compiler output (the host log and `lanes dev` have them)
        error: new LanesError("unavailable", `function "${spec.name}" failed to compile; the host log has the error`, {
          guestStack: error.message,
          cause: error,
        }),
        version: "",
        limits,
        active: 0,
      };
    }
  };

  for (const w of limitWarnings(manifest.functions, adapter)) log.warn(w);
  functions = await Promise.all(
    manifest.functions.map(async (spec): Promise<Served> => {
      const served = await build(spec);
      const why = (served.error?.cause as Error | undefined)?.message;
      if (why) log.error(why.startsWith(`${spec.name}: `) ? why : `${spec.name}: ${why}`);
      return served;
    }),
  );
  await Promise.all(functions.map((f) => f.pool?.warm()));
  let checked: Promise<Served[]> = Promise.resolve([]);
  if (o.strict) {
    const broken = await loadEach(functions);
    if (broken.length > 0) {
      await Promise.all(functions.map((f) => f.pool?.stop(0)));
      throw new LanesError("unavailable", `--strict: ${brokenSummary(broken, functions.length)}`);
    }
  } else {
    // after listening (below), so start-up does not wait for every function to load
    checked = new Promise((resolve) => setTimeout(() => void loadEach(functions).then(resolve), 0));
    void checked.then((broken) => broken.length > 0 && log.error(brokenSummary(broken, functions.length)));
  }

  // The router is rebuilt when the set of functions changes (`lanes dev`); the server calls
  // whichever is current, so a swap is one assignment and a request never sees half of one.
  const router = (list: Served[], onRequest = o.onRequest, version?: string) =>
    createHandler({
      functions: () => withFeeds(list, o.recent),
      dev: o.dev,
      host: { runtime: adapter.name, version: adapter.version, rss: () => adapter.hostRss() },
      metrics,
      ...(spans ? { spans } : {}),
      ...(onRequest ? { onRequest } : {}),
      ...(o.mapStack ? { mapStack: o.mapStack } : {}),
      ...(version ? { version } : {}),
    });
  let handler = router(functions);
  const own: HttpHandler = { fast: (ex) => handler.fast(ex), web: (request, ex) => handler.web(request, ex) };
  let server: RunningServer;
  try {
    server = await adapter.serve(o.front ? o.front.handler(() => handler) : own, { port: o.port, hostname: o.hostname });
  } catch (e) {
    await Promise.all(functions.map((f) => f.pool?.stop(0)));
    metrics.stop();
    await spans?.shutdown();
    // Node, Bun and Deno all say EADDRINUSE, each in its own words
    if ((e as { code?: string }).code !== "EADDRINUSE") throw e;
    throw new LanesError(
      "port_in_use",
      `port ${o.port} on ${o.hostname} is already in use: stop what listens there, or pass --port with another port (--port 0 picks a free one)`,
    );
  }
  const url = `http://${o.hostname.includes(":") ? `[${o.hostname}]` : o.hostname}:${server.port}`;
  let stopping: Promise<void> | undefined;
  const host: Host = {
    manifest,
    server,
    url,
    metrics,
    functions,
    checked,
    build,
    router,
    currentHandler: () => handler,
    route(list, next) {
      handler = router(list);
      functions = host.functions = list;
      host.manifest = next;
    },
    stop(graceMs = 5000) {
      // Stop accepting and let in-flight requests finish (queued ones included) while the
      // pools still run; then stop the pools, whose instances are idle by now.
      stopping ??= (async () => {
        const started = Date.now();
        await server.shutdown(graceMs);
        const left = Math.max(0, graceMs - (Date.now() - started));
        await Promise.all(functions.map((f) => f.pool?.stop(left, { finishWaitUntil: true })));
        metrics.stop();
        // the spans of the last requests go out before the host exits
        await spans?.shutdown().catch((e: unknown) => log.warn(`OpenTelemetry export: the last spans were not sent: ${String(e)}`));
      })();
      return stopping;
    },
  };
  return host;
}

/**
 * Load every function that has no instance yet (`instances.min` 0) once, two at a time: a module
 * that throws at import is found at start-up, not by the first client. The instance is stopped
 * again unless a request came meanwhile: a function with `min` 0 stays cold and costs no memory
 * until it is called. Returns the broken ones.
 */
async function loadEach(list: Served[]): Promise<Served[]> {
  const todo = list.filter((f) => f.pool && f.pool.live() === 0);
  const next = async (): Promise<void> => {
    for (let f = todo.shift(); f; f = todo.shift()) {
      await f.pool!.warm(1);
      await f.pool!.trim();
    }
  };
  await Promise.all([next(), next()]);
  return list.filter(isBroken);
}

/** Give each function its console feed, once (a router is built when the functions it serves change). */
function withFeeds(list: Served[], recent: RecentRequests | undefined): Served[] {
  if (recent) for (const s of list) s.recent ??= recent.of(s.spec.name);
  return list;
}

/** A function whose secret has no value: it answers 503, and says which only in the host log and `lanes dev`. */
function withoutSecret(spec: FunctionSpec, limits: unknown, why: LanesError): Served {
  const error = new LanesError("unavailable", `function "${spec.name}" cannot start: a secret it names has no value; the host log says which`, {
    guestStack: why.message,
    cause: why,
  });
  return { spec, error, version: "", limits, active: 0 };
}

/** It cannot serve: it did not compile, or no instance of it has started and the last start failed. */
export function isBroken(f: Served): boolean {
  return f.error !== undefined || (f.pool !== undefined && f.pool.live() === 0 && f.pool.startError !== undefined);
}

function brokenSummary(broken: Served[], total: number): string {
  return `${broken.length} of ${total} function(s) cannot start: ${broken.map((f) => f.spec.name).join(", ")} (the errors are above)`;
}
