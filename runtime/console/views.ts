/**
 * What the console's pages show, as JSON: the overview (every function, the host), one
 * function (its settings, what this host enforces in each lane, its instances, its recent
 * requests) and the deployments. Built from what the host serves now; no secret goes in (no
 * token, no env value: a function's env may hold secrets).
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { limitsFor } from "../capabilities.ts";
import { cutLine } from "../log.ts";
import type { Served } from "../host/served.ts";
import { memoryLimit } from "../pool/watchdog.ts";
import type { RecentRequests } from "./recent.ts";
import type { FunctionPoint, Sampler, Series } from "./series.ts";

const ERROR_CHARS = 2000;

export interface ViewSource {
  /** The function versions served now, labelled with their deployed version and share when the host keeps versions. */
  served(): Served[];
  adapter: RuntimeAdapter;
  startedAt: number;
  sampler: Sampler;
  recent: RecentRequests;
}

export interface FunctionRow {
  name: string;
  route: string;
  lane: string;
  runtime: string;
  status: "ok" | "broken";
  error?: string;
  versions: { version: string; percent: number | null }[];
  instances: { ready: number; busy: number; starting: number };
  restarts: number;
  leaked: number;
  series: Series<FunctionPoint>;
}

export function overview(src: ViewSource) {
  const host = src.sampler.host;
  const last = host.points[host.points.length - 1];
  return {
    host: {
      runtime: src.adapter.name,
      version: src.adapter.version,
      startedAt: src.startedAt,
      rssBytes: src.adapter.hostRss(),
      cpuCores: last?.cpuCores ?? null,
      series: host,
    },
    functions: [...byName(src.served()).entries()].map(([name, list]) => row(src, name, list)),
  };
}

/**
 * What changed since the last sample, for the live stream: the host's and each function's
 * newest point and current state (the page already has the older points); with `fn`, that
 * function's instances too.
 */
export function liveState(src: ViewSource, fn?: string) {
  const host = src.sampler.host;
  const functions = [...byName(src.served()).entries()].map(([name, list]) => {
    const { series, ...rest } = row(src, name, list);
    const i = series.t.length - 1;
    return { ...rest, last: i >= 0 ? { t: series.t[i]!, point: series.points[i]! } : null };
  });
  const list = fn ? byName(src.served()).get(fn) : undefined;
  return {
    t: host.t[host.t.length - 1] ?? Date.now(),
    host: { ...host.points[host.points.length - 1], rssBytes: src.adapter.hostRss() },
    functions,
    ...(list ? { instances: instancesOf(list) } : {}),
  };
}

export function functionDetail(src: ViewSource, name: string) {
  const list = byName(src.served()).get(name);
  if (!list) return undefined;
  const spec = list[list.length - 1]!.spec;
  const feed = src.recent.find(name);
  const other = spec.lane === "isolate" ? "process" : "isolate";
  return {
    function: row(src, name, list),
    settings: {
      methods: spec.methods ?? "*",
      instances: spec.instances,
      concurrency: spec.concurrency,
      queue: spec.queue,
      timeoutMs: spec.timeoutMs,
      memoryMb: spec.memoryMb,
      maxBodyBytes: spec.maxBodyBytes,
      shared: spec.shared,
      ...(spec.lane === "process" ? { sandbox: spec.sandbox } : {}),
    },
    // what this host enforces for it in its lane, and would in the other
    enforcement: {
      lane: spec.lane,
      [spec.lane]: limitsFor(spec, src.adapter),
      [other]: limitsFor({ ...spec, lane: other }, src.adapter),
      sandbox: src.adapter.sandbox().detail,
    },
    instances: instancesOf(list),
    recent: feed?.all.since(0) ?? [],
    errors: feed?.errors.since(0) ?? [],
  };
}

function instancesOf(list: Served[]) {
  const now = Date.now();
  const out = [];
  const seen = new Set<object>();
  for (const s of list) {
    if (!s.pool || seen.has(s.pool)) continue;
    seen.add(s.pool);
    const limit = memoryLimit(s.spec);
    for (const i of s.pool.instances) {
      if (i.state === "dead") continue;
      const memoryBytes = s.spec.lane === "process" ? (i.rss() ?? null) : i.memory.heap + i.memory.external;
      out.push({
        id: i.id,
        version: versionOf(s),
        state: i.state,
        inflight: i.inflight,
        ageMs: now - i.startedAt,
        memoryBytes,
        memoryOf: limit.of,
        memoryLimitBytes: limit.mb * 1024 * 1024,
        pid: i.pid() ?? null,
      });
    }
  }
  return out;
}

function row(src: ViewSource, name: string, list: Served[]): FunctionRow {
  const spec = list[list.length - 1]!.spec;
  const pools = [...new Set(list.flatMap((s) => (s.pool ? [s.pool] : [])))];
  const instances = { ready: 0, busy: 0, starting: 0 };
  for (const p of pools) {
    for (const i of p.instances) {
      if (i.state === "starting") instances.starting++;
      if (i.state === "ready") instances.ready++;
      if (i.state === "ready" && i.inflight > 0) instances.busy++;
    }
  }
  const broken = list.find((s) => s.error ?? (s.pool && s.pool.live() === 0 ? s.pool.startError : undefined));
  const why = broken && (broken.error ?? broken.pool?.startError);
  return {
    name,
    route: spec.route,
    lane: spec.lane,
    runtime: spec.runtime,
    status: why ? "broken" : "ok",
    ...(why ? { error: shortError(why.message) } : {}),
    versions: list.map((s) => ({ version: versionOf(s), percent: s.deployment?.percent ?? null })),
    instances,
    restarts: pools.reduce((n, p) => n + p.restarts, 0),
    leaked: pools.reduce((n, p) => n + p.leaked, 0),
    series: src.sampler.functions.get(name) ?? { t: [], points: [] },
  };
}

/**
 * A start error cut to ERROR_CHARS: a function's module may throw a message of any size, and
 * the overview, the function's page and every live sample (every 2 s, to every tab) carried all
 * of it. The host's log has the whole message.
 */
function shortError(message: string): string {
  return message.length > ERROR_CHARS ? cutLine(message.slice(0, ERROR_CHARS), message.length - ERROR_CHARS) : message;
}

/** The deployed version ("v3"), or without a store the first 12 characters of the bundle hash. */
function versionOf(s: Served): string {
  return s.deployment?.version ?? s.version.slice(0, 12);
}

function byName(served: Served[]): Map<string, Served[]> {
  const out = new Map<string, Served[]>();
  for (const s of served) {
    const list = out.get(s.spec.name);
    if (list) list.push(s);
    else out.set(s.spec.name, [s]);
  }
  return out;
}
