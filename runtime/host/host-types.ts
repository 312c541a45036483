/** What a host takes (HostOptions) and what it is once started (Host): runtime/host/host.ts starts one. */
import type { ConnectionLimits, HttpHandler, RunningServer, RuntimeAdapter } from "../../adapters/types.ts";
import type { InputRules } from "../compile-inputs.ts";
import type { Logger } from "../log.ts";
import type { FunctionSpec, Manifest } from "../manifest/load.ts";
import type { PackHouse } from "../pack/house.ts";
import type { SparePool } from "../lanes/spares.ts";
import type { HostMetrics } from "../ops/metrics.ts";
import type { SecretValues } from "../secrets/values.ts";
import type { RecentRequests } from "../console/recent.ts";
import type { TrustedProxies } from "./client-address.ts";
import type { HostHandler } from "./handler.ts";
import type { RequestLog, Served } from "./served.ts";

export interface HostOptions {
  dir: string;
  port: number;
  hostname: string;
  /** How long a connection may hold the server without a request (default DEFAULT_CONNECTION_LIMITS). */
  connections?: ConnectionLimits;
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
  /** `--console-host`: the host name (lower-case) the console answers on, and no function (console-host.ts). */
  consoleHost?: string;
  /** `--trust-proxy`: the reverse proxies whose X-Forwarded-For names the client (client-address.ts, misdirected-host.ts). */
  trustedProxies?: TrustedProxies;
  /** Answers every request in front of the host's own handler (deployments, admin API, tokens). */
  front?: Front;
  /** The console is on: each function's requests go to its feed here (runtime/console/recent.ts). */
  recent?: RecentRequests;
  /** The secret values functions get now (a deploy store's, or `lanes dev`'s local files); none: this host keeps no secrets. */
  secrets?: () => SecretValues;
  /** What a function's build may read (runtime/compile-inputs.ts): a deploy store's version its own folder, and none of the host's own files. */
  compileInputs?: InputRules;
  /** `lanes dev --inspect`: the specs as the manifest gives them, made debuggable (runtime/dev/inspect.ts). */
  adjust?: (spec: FunctionSpec) => FunctionSpec;
  /**
   * Compile each function on its first request or in the start-up load check, not before
   * listening (default: yes, unless `dev`, `strict` or a `front`, which need every bundle first).
   */
  lazy?: boolean;
  /** How long nothing must change before the host hands memory back (default QUIET_MS, 5 s; tests shorten it). */
  quietMs?: number;
  /** How often the running host notes its bundles in use and trims the cache (default 12 h; tests shorten it). */
  cacheUpkeepMs?: number;
}

export interface Front {
  /** The handler the server calls; `own()` is the host's handler over `Host.functions` now. */
  handler(own: () => HostHandler): HttpHandler;
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
  /** The start-up load check (`checked`) is still running: whether every function can start is not known yet. */
  loading(): boolean;
  /**
   * Compile a function and give it a pool with this host's lanes and shared stores; starts no
   * instance. `version`: the deployed version it belongs to, its metrics label (default: its
   * bundle hash). Its secrets come from `values` (default: the host's current ones). `lazy`:
   * compile it only when its pool first needs an instance.
   */
  build(spec: FunctionSpec, poolLog?: Logger, version?: string, values?: SecretValues, lazy?: boolean): Promise<Served>;
  /** The worker threads packed functions share. */
  pack: PackHouse;
  /** The process lane's warm spares. */
  spares: SparePool;
  /** The request handler the server calls now (replaced by `route`). */
  currentHandler(): HttpHandler;
  /** Serve `functions` from now on; requests already in flight finish on what they started with. */
  route(functions: Served[], manifest: Manifest): void;
  /** A handler over `functions` as the host builds its own, with its own request hook and deployed version. */
  router(functions: Served[], onRequest?: (entry: RequestLog) => void, version?: string): HostHandler;
  stop(graceMs?: number): Promise<void>;
}
