/**
 * Starts a host: load the manifest, compile the guests and the functions, start a pool per
 * function in its lane, serve HTTP. Returns a handle to stop it all.
 */
import { keepCache } from "./cache-upkeep.ts";
import type { HttpHandler, RefusedRequest, RunningServer } from "../../adapters/types.ts";
import { limitsFor, limitWarnings } from "../capabilities.ts";
import type { Compiled } from "../compile.ts";
import { LanesError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { loadManifest, type FunctionSpec } from "../manifest/load.ts";
import { writableSource } from "../manifest/permissions.ts";
import { laneFor, type LaneContext } from "../lanes/mod.ts";
import { PackHouse } from "../pack/house.ts";
import { SparePool } from "../lanes/spares.ts";
import { isolationReport } from "../isolation.ts";
import { HostMetrics } from "../ops/metrics.ts";
import { startSpanExport, type SpanExport } from "../ops/otel.ts";
import { Pool, type PoolDeps } from "../pool/pool.ts";
import { adjusted } from "../dev/inspect.ts";
import { compileFunction, loadSpec, withBundle } from "../lanes/loadable.ts";
import { functionEnv, NO_SECRETS_HERE, type SecretEnv } from "../secrets/values.ts";
import { SharedStore } from "../shared/store.ts";
import type { RecentRequests } from "../console/recent.ts";
import { createHandler } from "./handler.ts";
import { reduceMemoryWhenQuiet } from "./idle-memory.ts";
import { hostBuffers } from "../channel/buffer-pool.ts";
import { brokenSummary, loadEach } from "./load-check.ts";
import { compileGuests, guestFilesKeeper } from "./guest-files.ts";
import type { Host, HostOptions } from "./host-types.ts";
import { listenError } from "./listen-error.ts";
import { guardOwnRoutes } from "./misdirected-host.ts";
import type { Served } from "./served.ts";

export type { Front, Host, HostOptions } from "./host-types.ts";
export { compileGuests } from "./guest-files.ts";

/** Longest wait for ctx.shared's lock on the host's main thread before shared_busy (see storeFor). */
const HOST_LOCK_TIMEOUT_MS = 250;

export async function startHost(o: HostOptions): Promise<Host> {
  const { adapter, log } = o;
  const manifest = adjusted(await loadManifest(o.dir, adapter.sys, adapter.name), o.adjust);
  for (const w of manifest.warnings) log.warn(w);
  const isolation = isolationReport(manifest.functions, adapter);
  if (isolation.errors.length > 0) throw new LanesError("sandbox_unavailable", `${manifest.file}: ${isolation.errors.join("\n  ")}`);
  for (const w of isolation.warnings) log.warn(w);
  const guests = await compileGuests(adapter);
  const guestFiles = guestFilesKeeper(adapter, guests, log);
  const stores = new Map<string, SharedStore>();
  const storeFor = (spec: FunctionSpec) => {
    let s = stores.get(spec.shared);
    // The host serves process-lane ctx.shared calls on its main thread: it must not sit in
    // lock() for long. Holders are live workers (microseconds); a worker that died holding the
    // lock is recovered on its exit event, which cannot run while this thread waits.
    if (!s) stores.set(spec.shared, (s = SharedStore.create({ lockTimeoutMs: HOST_LOCK_TIMEOUT_MS })));
    return s;
  };
  const pack = new PackHouse({ adapter, log, file: guests.pack, maxWorkers: adapter.cores(), storeFor });
  const spares = new SparePool({ adapter, log, childFile: guests.child, snapshotEntry: guests.childSnapshot });
  const laneCtx: LaneContext = { adapter, log, guests, sharedStore: storeFor, pack, spares };
  // whose write grants a function's sources are checked against (writableSource): the manifest being served
  let grantsFrom = manifest;
  const lazy = o.lazy ?? (!o.dev && !o.strict && !o.front);
  let functions: Served[] = [];
  const metrics = new HostMetrics(
    { functions: () => functions, stores: () => stores, runtime: adapter.name, version: adapter.version, rss: () => adapter.hostRss(), cpu: () => adapter.hostCpu() },
    o.metrics ?? true,
  );
  const spans: SpanExport | undefined = o.otlpEndpoint ? await startSpanExport(o.otlpEndpoint, { runtime: adapter.name, version: adapter.version }, (m) => log.warn(m)) : undefined;

  /** Compile one function (now, or when its pool first needs an instance) and give it a pool in its lane. */
  const build = async (spec: FunctionSpec, poolLog: Logger = log, version?: string, values = o.secrets?.(), lazyBuild = false): Promise<Served> => {
    const limits = limitsFor(spec, adapter);
    let secret: SecretEnv;
    try {
      secret = functionEnv(spec, values, NO_SECRETS_HERE);
    } catch (e) {
      return withoutSecret(spec, limits, e as LanesError);
    }
    if (spec.pack) pack.register(spec);
    // (not in `lanes dev`: its stacks are mapped by the bundle's own path, which a spare's copy does not have)
    if (spec.lane === "process" && !o.dev) spares.register(spec);
    // secrets go in the load call only, never in a process's environment block (/proc/PID/environ)
    const load = loadSpec(spec, secret.env, o.dev);
    const served: Served = { spec, version: "", limits, active: 0, secretStamp: secret.stamp };
    // the store its ctx.shared calls over IPC use, looked up once: a version a deploy retires
    // keeps it for its last requests, rather than making a new empty one the host then keeps
    let ownStore: SharedStore | undefined;
    let bundle: Compiled | undefined;
    let compiling: Promise<void> | undefined;
    const deps: PoolDeps = {
      prepare: () => prepare(),
      spawn: (wanted) => laneFor(spec).spawn(spec, laneCtx, bundle!.file, wanted),
      load,
      log: poolLog,
      // values go to the store as the function passed them: it checks types the same way in
      // both lanes (a string delta or a numeric value is refused, not coerced)
      shared: (op, key, value) => {
        const store = (ownStore ??= storeFor(spec));
        if (op === "add") return store.add(key, value as number);
        if (op === "get") return store.get(key) ?? null;
        store.set(key, value as string);
        return undefined;
      },
      stopsSpin: limits.cpuSpin === "enforced",
    };
    const prepare = async () => {
      await guestFiles();
      // its bundle gone from the cache under the host (guest-files.ts): compiled again
      if (bundle && !(await adapter.sys.exists(bundle.file))) compiling = undefined;
      const sources = async (b: Compiled) => {
        const problem = await writableSource(spec.name, b.sources ?? b.inputs, grantsFrom.functions, grantsFrom.dir, adapter.sys);
        if (problem) throw new LanesError("compile_failed", problem);
        return b;
      };
      await (compiling ??= compileFunction(spec, adapter.sys, o.compileInputs)
        .then(sources)
        .then(
          (b) => {
            bundle = served.compiled = b;
            served.version = b.hash;
            withBundle(load, spec, b, adapter.sys);
            // its metrics are labelled with its version, which a lazy function has once compiled
            const meter = served.meter ?? metrics.meterFor({ function: spec.name, lane: spec.lane, runtime: spec.runtime, version: version ?? o.version ?? b.hash });
            if (meter) served.meter = deps.observer = meter;
          },
          (e) => {
            const error = e instanceof LanesError ? e : new LanesError("unavailable", String(e));
            if (lazyBuild) poolLog.error(error.message.startsWith(`${spec.name}: `) ? error.message : `${spec.name}: ${error.message}`);
            // clients get no source path or compiler output (the host log and `lanes dev` have them)
            throw new LanesError("unavailable", `function "${spec.name}" failed to compile; the host log has the error`, {
              guestStack: error.message,
              cause: error,
            });
          },
        ));
    };
    const pool = new Pool(spec, deps);
    if (!lazyBuild) {
      try {
        await prepare();
      } catch (e) {
        await pool.stop(0);
        return { spec, error: e as LanesError, version: "", limits, active: 0, secretStamp: secret.stamp };
      }
    }
    // (its version and bundle are filled in once it is compiled)
    served.pool = pool;
    return served;
  };

  for (const w of limitWarnings(manifest.functions, adapter)) log.warn(w);
  functions = await Promise.all(
    manifest.functions.map(async (spec): Promise<Served> => {
      const served = await build(spec, log, undefined, undefined, lazy);
      const why = (served.error?.cause as Error | undefined)?.message;
      if (why) log.error(why.startsWith(`${spec.name}: `) ? why : `${spec.name}: ${why}`);
      return served;
    }),
  );
  await Promise.all(functions.map((f) => f.pool?.warm()));
  let checked: Promise<Served[]> = Promise.resolve([]);
  // until the load check below has ended, nobody knows whether a function can start: health and
  // ready say "starting" rather than "ok" (function-health.ts)
  let loading = false;
  if (o.strict) {
    const broken = await loadEach(functions, log);
    if (broken.length > 0) {
      await Promise.all(functions.map((f) => f.pool?.stop(0)));
      await Promise.all([pack.stop(), spares.stop()]);
      throw new LanesError("unavailable", `--strict: ${brokenSummary(broken, functions.length)}`);
    }
  } else {
    // after listening (below), so start-up does not wait for every function to load
    loading = true;
    checked = new Promise((resolve) => setTimeout(() => void loadEach(functions, log).then(resolve), 0));
    void checked.then(() => (loading = false));
    void checked.then((broken) => broken.length > 0 && log.error(brokenSummary(broken, functions.length)));
  }

  // The router is rebuilt when the set of functions changes (`lanes dev`); the server calls
  // whichever is current, so a swap is one assignment and a request never sees half of one.
  const router = (list: Served[], onRequest = o.onRequest, version?: string) =>
    createHandler({
      functions: () => withFeeds(list, o.recent),
      dev: o.dev,
      host: {
        runtime: adapter.name,
        version: adapter.version,
        rss: () => adapter.hostRss(),
        loading: () => loading,
        extra: () => ({ packed: pack.describe(), spares: spares.describe() }),
      },
      metrics,
      ...(spans ? { spans } : {}),
      ...(onRequest ? { onRequest } : {}),
      ...(o.mapStack ? { mapStack: o.mapStack } : {}),
      ...(version ? { version } : {}),
    });
  let handler = router(functions);
  // requests to functions, for going quiet (idle-memory.ts): lanes' own routes (a metrics
  // scrape, a health check), which `fast` declines, do not keep a host busy
  let requests = 0;
  const own: HttpHandler = {
    fast: (ex) => {
      const out = handler.fast(ex);
      if (out !== undefined) requests++;
      return out;
    },
    web: (request, ex) => handler.web(request, ex),
  };
  let server: RunningServer;
  try {
    const opts = { port: o.port, hostname: o.hostname, ...(o.connections ? { connections: o.connections } : {}), refused: (r: RefusedRequest) => handler.refused(r) };
    server = await adapter.serve(guardOwnRoutes(o.front ? o.front.handler(() => handler) : own, o), opts);
  } catch (e) {
    await Promise.all(functions.map((f) => f.pool?.stop(0)));
    await Promise.all([pack.stop(), spares.stop()]);
    metrics.stop();
    await spans?.shutdown();
    throw listenError(e, o.port, o.hostname);
  }
  const url = `http://${o.hostname.includes(":") ? `[${o.hostname}]` : o.hostname}:${server.port}`;
  // what the host is doing, in one string: memory is handed back once it stops changing
  const stopReducing = reduceMemoryWhenQuiet(
    adapter,
    () => {
      let instances = 0;
      for (const f of functions) instances += f.pool?.instances.length ?? 0;
      return `${requests} ${instances} ${pack.workers.length} ${spares.count}`;
    },
    () => hostBuffers.clear(),
    o.quietMs,
  );
  const stopCacheNotes = keepCache(adapter, () => functions, log, o.cacheUpkeepMs);
  let stopping: Promise<void> | undefined;
  const host: Host = {
    manifest,
    server,
    url,
    metrics,
    functions,
    checked,
    loading: () => loading,
    build,
    pack,
    spares,
    router,
    currentHandler: () => handler,
    route(list, next) {
      handler = router(list);
      functions = host.functions = list;
      host.manifest = grantsFrom = next;
      // A ctx.shared group no served function uses any more (a deploy or an edit removed or
      // renamed them all) is let go: every name a long-lived host ever served kept its store,
      // 0.5 MB of address space and four metric series each. Brought back, it starts empty.
      const used = new Set(list.map((f) => f.spec.shared));
      for (const group of stores.keys()) if (!used.has(group)) stores.delete(group);
      pack.retain(list.map((f) => f.spec));
      o.recent?.retain(new Set(list.map((f) => f.spec.name))); // a function brought back under a name is another
    },
    stop(graceMs = 5000) {
      // Stop accepting and let in-flight requests finish (queued ones included) while the
      // pools still run; then stop the pools, whose instances are idle by now.
      stopping ??= (async () => {
        stopReducing();
        stopCacheNotes();
        const started = Date.now();
        await server.shutdown(graceMs);
        const left = Math.max(0, graceMs - (Date.now() - started));
        await Promise.all(functions.map((f) => f.pool?.stop(left, { finishWaitUntil: true })));
        for (const f of functions) f.bodyReads?.clear();
        await Promise.all([pack.stop(), spares.stop()]);
        metrics.stop();
        // the spans of the last requests go out before the host exits
        await spans?.shutdown().catch((e: unknown) => log.warn(`OpenTelemetry export: the last spans were not sent: ${String(e)}`));
      })();
      return stopping;
    },
  };
  return host;
}

/** Each function's console feed, its name's current one (one it had may be gone with its name: retain in route). */
function withFeeds(list: Served[], recent: RecentRequests | undefined): Served[] {
  if (recent) for (const s of list) s.recent = recent.of(s.spec.name);
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
