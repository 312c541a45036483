/**
 * `lanes bench --density N`: what one host costs per function when it holds many small ones.
 * Per host runtime, two fresh hosts:
 *
 * 1. N hello functions in the isolate lane (packed, `"pack": true`, unless `--pack=false`), each
 *    its own file, `instances.min` 0: the time to "listening", host RSS at listening and once
 *    the start-up load check is over, the first request to each function in turn (a cold start
 *    each, but for the functions the load check left warm), RSS after all N, and RSS after
 *    `idleMs` with no traffic.
 * 2. P hello functions in the process lane: the first request to each, in turn, each once a warm
 *    spare is ready (when the host keeps spares; `/_lanes/metrics` says); the functions the load
 *    check left warm are left out of the cold figures.
 *
 * Requests go one at a time over one keep-alive connection, so each latency is a client's own.
 */
import { rmSync } from "node:fs";
import { Agent } from "node:http";
import { generate, get, MB, nameOf, noLatencies, percentiles, settle, sleep, warmFunctions, type Latencies } from "./density-kit.ts";
import { startLanesHost, type HostProcess } from "./host-process.ts";
import { rssBytes } from "./proc.ts";
import type { BenchRuntime } from "./report.ts";

const SPARE_WAIT_MS = 10_000;

export interface DensityOptions {
  count: number;
  processCount: number;
  runtimes: BenchRuntime[];
  /** Which parts: "isolate" (N functions) and "process" (P functions, warm spares). */
  lanes: ("isolate" | "process")[];
  pack: boolean;
  /** The functions' instances.idleMs: longer than the N first requests take, so all N are loaded at once. */
  idleMs: number;
  /** Start the hosts with --no-metrics: what the per-function metric series keep, apart. */
  noMetrics?: boolean;
  /** Skip waiting idleMs for the memory to come back. */
  skipIdle?: boolean;
  /** A folder to write the generated functions in (removed afterwards). */
  scratch: string;
  binary(runtime: BenchRuntime): string;
  onPhase(phase: string): void;
}

export interface DensityIsolate {
  runtime: BenchRuntime;
  functions: number;
  packed: boolean;
  listeningMs: number;
  /** Of `listeningMs`, what the host's start-up took once its runtime had booted (its `ready in` line). */
  readyInMs: number;
  rssListeningMb: number;
  /** Once the start-up load check is over (the host's CPU went quiet). */
  settledMs: number;
  rssSettledMb: number;
  rssAfterCallsMb: number;
  /** (RSS after one request to each function - RSS settled) / functions. */
  growthPerFunctionMb: number;
  coldMs: Latencies;
  /** The second request to each function, right after its first. */
  warmMs: Latencies;
  /** After idleMs (+ reaping) with no traffic. */
  rssAfterIdleMb: number;
  non200: number;
  error?: string;
}

export interface DensityProcess {
  runtime: BenchRuntime;
  functions: number;
  /** The host reported warm spares (false: every first request started a child). */
  spares: boolean;
  coldMs: Latencies;
  warmMs: Latencies;
  non200: number;
  error?: string;
}

export interface DensityReport {
  isolate: DensityIsolate[];
  process: DensityProcess[];
}

export async function runDensity(o: DensityOptions): Promise<DensityReport> {
  const report: DensityReport = { isolate: [], process: [] };
  for (const runtime of o.runtimes) {
    if (o.lanes.includes("isolate")) report.isolate.push(await isolatePart(o, runtime));
    if (o.lanes.includes("process")) report.process.push(await processPart(o, runtime));
  }
  return report;
}

async function isolatePart(o: DensityOptions, runtime: BenchRuntime): Promise<DensityIsolate> {
  const dir = generate(o.scratch, `isolate-${runtime}`, o.count, (name) => ({
    ...(o.pack ? { pack: true } : {}),
    instances: { min: 0, idleMs: o.idleMs },
    route: `/${name}`,
  }));
  const empty = noLatencies();
  const out: DensityIsolate = {
    runtime,
    functions: o.count,
    packed: o.pack,
    listeningMs: NaN,
    readyInMs: NaN,
    rssListeningMb: NaN,
    settledMs: NaN,
    rssSettledMb: NaN,
    rssAfterCallsMb: NaN,
    growthPerFunctionMb: NaN,
    coldMs: empty,
    warmMs: empty,
    rssAfterIdleMb: NaN,
    non200: 0,
  };
  o.onPhase(`isolate · ${runtime}: starting a host with ${o.count} functions`);
  const t0 = performance.now();
  let host: HostProcess | undefined;
  try {
    host = await startLanesHost(runtime, o.binary(runtime), dir, o.noMetrics ? { extra: ["--no-metrics"] } : {});
    out.listeningMs = performance.now() - t0;
    out.rssListeningMb = rssBytes(host.pid) / MB;
    await sleep(200); // the `ready in` line comes just before `listening on`, on the other stream
    out.readyInMs = host.readyInMs() ?? NaN;
    o.onPhase(`isolate · ${runtime}: waiting for the start-up load check`);
    await settle(host.pid);
    out.settledMs = performance.now() - t0;
    out.rssSettledMb = rssBytes(host.pid) / MB;
    const warmAtStart = await warmFunctions(host.url);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const cold: number[] = [];
    const warm: number[] = [];
    const calls0 = Date.now();
    for (let i = 0; i < o.count; i++) {
      if (i % 50 === 0) o.onPhase(`isolate · ${runtime}: first request to each function, ${i}/${o.count}`);
      const a = await get(agent, `${host.url}/${nameOf(i)}`);
      if (a.status !== 200) out.non200++;
      if (!warmAtStart.has(nameOf(i))) cold.push(a.ms);
      warm.push((await get(agent, `${host.url}/${nameOf(i)}`)).ms);
    }
    out.rssAfterCallsMb = rssBytes(host.pid) / MB;
    out.growthPerFunctionMb = (out.rssAfterCallsMb - out.rssSettledMb) / o.count;
    if (Date.now() - calls0 > o.idleMs) out.error = `the first requests took longer than idleMs (${o.idleMs} ms): some functions were reaped before the RSS was read`;
    out.coldMs = percentiles(cold);
    out.warmMs = percentiles(warm);
    agent.destroy();
    if (!o.skipIdle) {
      o.onPhase(`isolate · ${runtime}: idle for ${o.idleMs} ms`);
      // idleMs, the reaper's next pass (every second), an empty worker's short grace, then the
      // host's quiet-time collections (runtime/host/idle-memory.ts: 5 s quiet, then twice, 6 s apart)
      await sleep(o.idleMs + 20_000);
      out.rssAfterIdleMb = rssBytes(host.pid) / MB;
    }
  } catch (e) {
    out.error = (e as Error).message.split("\n")[0];
  } finally {
    await host?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

async function processPart(o: DensityOptions, runtime: BenchRuntime): Promise<DensityProcess> {
  const dir = generate(o.scratch, `process-${runtime}`, o.processCount, (name) => ({
    lane: "process",
    runtime,
    // idle 1 s: the instances the load check left warm are gone before the first requests
    instances: { min: 0, max: 1, idleMs: 1000 },
    route: `/${name}`,
  }));
  const empty = noLatencies();
  const out: DensityProcess = { runtime, functions: o.processCount, spares: false, coldMs: empty, warmMs: empty, non200: 0 };
  o.onPhase(`process · ${runtime}: starting a host with ${o.processCount} functions`);
  let host: HostProcess | undefined;
  try {
    host = await startLanesHost(runtime, o.binary(runtime), dir, o.noMetrics ? { extra: ["--no-metrics"] } : {});
    await settle(host.pid);
    const warmAtStart = await warmFunctions(host.url);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < o.processCount; i++) {
      o.onPhase(`process · ${runtime}: first request to each function, ${i}/${o.processCount}`);
      out.spares = (await spareReady(host.url, runtime)) || out.spares;
      const a = await get(agent, `${host.url}/${nameOf(i)}`);
      if (a.status !== 200) out.non200++;
      if (!warmAtStart.has(nameOf(i))) cold.push(a.ms);
      warm.push((await get(agent, `${host.url}/${nameOf(i)}`)).ms);
    }
    agent.destroy();
    out.coldMs = percentiles(cold);
    out.warmMs = percentiles(warm);
  } catch (e) {
    out.error = (e as Error).message.split("\n")[0];
  } finally {
    await host?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/** Waits until the host has a ready spare for `runtime`; false when it keeps none. */
async function spareReady(base: string, runtime: string): Promise<boolean> {
  const end = Date.now() + SPARE_WAIT_MS;
  for (;;) {
    const m = (await (await fetch(`${base}/_lanes/metrics`, { headers: { accept: "application/json" } })).json()) as { spares?: { runtime: string; ready: number }[] };
    if (!m.spares) {
      await sleep(300); // no spares on this host: let the previous child settle
      return false;
    }
    if (m.spares.some((s) => s.runtime === runtime && s.ready > 0)) return true;
    if (Date.now() > end) return false;
    await sleep(20);
  }
}

/** The terminal table. */
export function densityTable(r: DensityReport): string {
  const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : "-");
  const lines: string[] = [];
  if (r.isolate.length > 0) {
    lines.push(
      "| host | functions | listening s (of which start-up) | RSS at listening / after check MB | RSS after 1 call each MB | growth per function MB | cold p50 / p90 / p99 ms | warm p50 ms | RSS after idle MB | non-200 |",
    );
    lines.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const x of r.isolate) {
      lines.push(
        `| ${x.runtime} | ${x.functions} ${x.packed ? "packed" : "unpacked"} | ${f(x.listeningMs / 1000, 2)} (${f(x.readyInMs / 1000, 2)}) | ${f(x.rssListeningMb)} / ${f(x.rssSettledMb)} | ${f(x.rssAfterCallsMb)} | ${f(x.growthPerFunctionMb, 2)} | ${f(x.coldMs.p50, 1)} / ${f(x.coldMs.p90, 1)} / ${f(x.coldMs.p99, 1)} | ${f(x.warmMs.p50, 1)} | ${f(x.rssAfterIdleMb)} | ${x.non200}${x.error ? ` (${x.error})` : ""} |`,
      );
    }
  }
  if (r.process.length > 0) {
    lines.push("", "| host | process-lane functions | warm spares | cold p50 / p90 / max ms | warm p50 ms | non-200 |", "|---|---:|---|---:|---:|---:|");
    for (const x of r.process) {
      lines.push(
        `| ${x.runtime} | ${x.functions} | ${x.spares ? "yes" : "no"} | ${f(x.coldMs.p50, 1)} / ${f(x.coldMs.p90, 1)} / ${f(x.coldMs.max, 1)} | ${f(x.warmMs.p50, 1)} | ${x.non200}${x.error ? ` (${x.error})` : ""} |`,
      );
    }
  }
  return lines.join("\n");
}
