/**
 * Starts a host: load the manifest, compile the guests and the functions, start a pool per
 * function in its lane, serve HTTP. Returns a handle to stop it all.
 */
import type { RunningServer, RuntimeAdapter } from "../../adapters/types.ts";
import { limitsFor, limitWarnings } from "../capabilities.ts";
import { compile } from "../compile.ts";
import { LanesError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { loadManifest, type FunctionSpec, type Manifest } from "../manifest/load.ts";
import { lanes, type LaneContext } from "../lanes/mod.ts";
import { Pool } from "../pool/pool.ts";
import { SharedStore } from "../shared/store.ts";
import { createApp, type RequestLog, type Served } from "./app.ts";

export interface HostOptions {
  dir: string;
  port: number;
  hostname: string;
  dev: boolean;
  adapter: RuntimeAdapter;
  log: Logger;
  onRequest?: (entry: RequestLog) => void;
}

export interface Host {
  manifest: Manifest;
  server: RunningServer;
  url: string;
  functions: Served[];
  stop(graceMs?: number): Promise<void>;
}

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
  const manifest = await loadManifest(o.dir, adapter.sys, adapter.name);
  for (const w of manifest.warnings) log.warn(w);
  const guests = await compileGuests(adapter);
  const stores = new Map<string, SharedStore>();
  const storeFor = (spec: FunctionSpec) => {
    let s = stores.get(spec.shared);
    if (!s) stores.set(spec.shared, (s = SharedStore.create()));
    return s;
  };
  const laneCtx: LaneContext = { adapter, log, guests, sharedBuffer: (spec) => storeFor(spec).buffer };

  const functions: Served[] = await Promise.all(
    manifest.functions.map(async (spec): Promise<Served> => {
      const limits = limitsFor(spec, adapter);
      for (const w of limitWarnings(spec, adapter)) log.warn(w);
      try {
        const bundle = await compile(spec.entry, adapter.sys, spec.name);
        const store = storeFor(spec);
        const pool = new Pool(spec, {
          spawn: () => lanes[spec.lane].spawn(spec, laneCtx),
          load: { name: spec.name, lane: spec.lane, bundleUrl: adapter.sys.fileUrl(bundle.file), env: spec.env, dev: o.dev },
          log,
          shared: (op, key, value) => {
            if (op === "add") return store.add(key, Number(value));
            if (op === "get") return store.get(key) ?? null;
            store.set(key, String(value));
          },
        });
        return { spec, pool, version: bundle.hash, limits };
      } catch (e) {
        const error = e instanceof LanesError ? e : new LanesError("unavailable", String(e));
        log.error(`${spec.name}: ${error.message}`);
        return { spec, error: new LanesError("unavailable", `function "${spec.name}" failed to compile: ${error.message}`), version: "", limits };
      }
    }),
  );
  await Promise.all(functions.map((f) => f.pool?.warm()));

  const app = createApp({ functions: () => functions, dev: o.dev, ...(o.onRequest ? { onRequest: o.onRequest } : {}) });
  const server = await adapter.serve(app.fetch, { port: o.port, hostname: o.hostname });
  const url = `http://${o.hostname.includes(":") ? `[${o.hostname}]` : o.hostname}:${server.port}`;
  let stopping: Promise<void> | undefined;
  return {
    manifest,
    server,
    url,
    functions,
    stop(graceMs = 5000) {
      stopping ??= (async () => {
        await Promise.all([server.shutdown(graceMs), ...functions.map((f) => f.pool?.stop(graceMs))]);
      })();
      return stopping;
    },
  };
}
