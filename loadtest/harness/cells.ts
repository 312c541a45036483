/**
 * One cell of the matrix: start a host with one function in one lane (or the direct baseline)
 * on one runtime, check its answer, time a cold start, warm up, load it, read memory and CPU
 * from /proc, stop the host.
 */
import type { BenchOptions } from "./options.ts";
import { startDirectHost, startLanesHost, type HostProcess } from "./host-process.ts";
import { checkAnswer, load, send, warmLatency, type GeneratorCommand } from "./load.ts";
import { machineBusyMs, rssBytes, selfCpuMs, usageBetween, usageSnapshot } from "./proc.ts";
import type { BenchLane, BenchResult, BenchRuntime } from "./report.ts";
import { NOISY } from "./table.ts";
import type { Workload } from "./workloads.ts";
import type { Workspace } from "./workspace.ts";

const MB = 1024 * 1024;

export interface Metrics {
  host?: { runtime: string; version: string; rssBytes: number };
  functions: { name: string; runtime: string; restarts: number; instances: { state: string; rssBytes: number | null }[] }[];
}

export async function metrics(base: string): Promise<Metrics> {
  return (await (await fetch(`${base}/_lanes/metrics`, { headers: { accept: "application/json" } })).json()) as Metrics;
}

export interface CellContext {
  opts: BenchOptions;
  ws: Workspace;
  binary(runtime: BenchRuntime): string;
  /** How to start the load generator (load.ts). */
  generator: GeneratorCommand;
  /** A runtime's version, as its host reports it. */
  sawVersion(runtime: BenchRuntime, version: string): void;
  onPhase(phase: string): void;
}

export async function runCell(c: CellContext, w: Workload, lane: BenchLane, runtime: BenchRuntime): Promise<BenchResult> {
  c.ws.writeManifest({ [w.name]: c.ws.entryIn(w.name, lane === "direct" ? "isolate" : lane) });
  c.onPhase("starting");
  const host =
    lane === "direct"
      ? await startDirectHost(runtime, c.binary(runtime), c.ws.dir, w.name)
      : await startLanesHost(runtime, c.binary(runtime), c.ws.dir, { extra: c.opts.noMetrics ? ["--no-metrics"] : [] });
  try {
    return await measure(c, host, w, lane, runtime);
  } finally {
    await host.stop();
  }
}

async function measure(c: CellContext, host: HostProcess, w: Workload, lane: BenchLane, runtime: BenchRuntime): Promise<BenchResult> {
  const { opts } = c;
  const before = await metrics(host.url); // also warms the server's own code paths
  if (before.host) c.sawVersion(runtime, before.host.version);
  const baseRss = rssBytes(host.pid);

  c.onPhase("cold start");
  const first = await send(host.url, w);
  const why = w.check(first.status, first.body, w.body);
  const empty = emptyResult(w, lane, runtime);
  if (why) {
    const text = new TextDecoder().decode(first.body.slice(0, 200));
    return { ...empty, checkError: `${w.method} ${w.path}: ${why} (got ${first.status} ${JSON.stringify(text)})` };
  }
  const warmMs = await warmLatency(host.url, w);
  const idle = await metrics(host.url);
  const idleInstances = instancesOf(idle, w.name);
  const idleInstanceMb =
    lane === "direct" || idleInstances.length === 0
      ? null
      : lane === "isolate"
        ? (rssBytes(host.pid) - baseRss) / idleInstances.length / MB
        : sum(idleInstances.map((i) => i.rssBytes ?? 0)) / idleInstances.length / MB;

  c.onPhase("warming up");
  await load(host.url, w, { generator: c.generator, durationS: opts.warmupS, connections: opts.connections });
  const again = await checkAnswer(host.url, w);
  if (again) return { ...empty, checkError: `after warm-up: ${again}` };

  if (opts.settleS > 0) {
    c.onPhase("waiting for a quiet machine");
    await quiet(opts.settleS);
  }
  c.onPhase("measuring");
  // from when the generator has started (its own start-up is neither load nor the host's work)
  let use0 = usageSnapshot(host.pid);
  let busy0 = machineBusyMs();
  let self0 = selfCpuMs();
  let t0 = performance.now();
  const { generatorCpuMs, ...m } = await load(host.url, w, {
    generator: c.generator,
    durationS: opts.durationS,
    connections: opts.connections,
    onStart: () => {
      use0 = usageSnapshot(host.pid);
      busy0 = machineBusyMs();
      self0 = selfCpuMs();
      t0 = performance.now();
    },
    onTick: (s) => c.onPhase(`measuring ${Math.min(s, opts.durationS)}/${opts.durationS} s`),
  });
  const use = usageBetween(host.pid, use0, usageSnapshot(host.pid));
  const hostCpu = use.own.cpuMs + use.below.cpuMs;
  // what the rest of the machine (other tenants, not the host, the load generator nor the bench) used
  const elapsedMs = performance.now() - t0;
  const generatorCores = generatorCpuMs / elapsedMs;
  const foreignCpu = Math.max(0, machineBusyMs() - busy0 - hostCpu - generatorCpuMs - (selfCpuMs() - self0)) / elapsedMs;
  const hostRss = rssBytes(host.pid);
  const after = await metrics(host.url);
  const instances = instancesOf(after, w.name);
  const instancesRss = lane === "process" ? sum(instances.map((i) => i.rssBytes ?? 0)) : 0;
  const fn = after.functions.find((f) => f.name === w.name);
  const perRequest = (x: number) => (m.requests > 0 ? x / m.requests : 0);
  return {
    ...empty,
    ...(lane === "process" && fn ? { childRuntime: fn.runtime as BenchRuntime } : {}),
    ...m,
    rssMb: (hostRss + instancesRss) / MB,
    hostRssMb: hostRss / MB,
    instancesRssMb: instancesRss / MB,
    idleInstanceMb,
    instances: lane === "direct" ? 0 : instances.length,
    coldStartMs: lane === "direct" ? null : Math.max(0, first.ms - warmMs),
    warmMs,
    cpuMsPerRequest: perRequest(hostCpu),
    hostCpuMsPerRequest: perRequest(use.own.cpuMs),
    childrenCpuMsPerRequest: perRequest(use.below.cpuMs),
    faultsPerRequest: { host: perRequest(use.own.minorFaults), children: perRequest(use.below.minorFaults) },
    foreignCpu,
    generatorCores,
    restarts: fn?.restarts ?? 0,
    requestBytes: w.body?.length ?? 0,
    responseBytes: first.body.length,
  };
}

function instancesOf(m: Metrics, name: string) {
  return (m.functions.find((f) => f.name === name)?.instances ?? []).filter((i) => i.state === "ready");
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

export function emptyResult(w: Workload, lane: BenchLane, runtime: BenchRuntime): BenchResult {
  return {
    workload: w.name,
    lane,
    runtime,
    rps: 0,
    p50Ms: 0,
    p99Ms: 0,
    errors: 0,
    non2xx: 0,
    requests: 0,
    rssMb: 0,
    hostRssMb: 0,
    instancesRssMb: 0,
    idleInstanceMb: null,
    instances: 0,
    coldStartMs: null,
    warmMs: 0,
    cpuMsPerRequest: 0,
    hostCpuMsPerRequest: 0,
    childrenCpuMsPerRequest: 0,
    faultsPerRequest: { host: 0, children: 0 },
    restarts: 0,
    foreignCpu: 0,
    generatorCores: 0,
    requestBytes: w.body?.length ?? 0,
    responseBytes: 0,
  };
}

/**
 * On a shared machine, wait (at most `maxS`) for a second in which other processes use less
 * than NOISY cores, so the measured window starts with the cores to itself. The host under
 * test is idle meanwhile, so what the machine spends is someone else's.
 */
async function quiet(maxS: number): Promise<void> {
  const until = performance.now() + maxS * 1000;
  while (performance.now() < until) {
    const busy0 = machineBusyMs();
    const self0 = selfCpuMs();
    await new Promise((r) => setTimeout(r, 1000));
    if ((machineBusyMs() - busy0 - (selfCpuMs() - self0)) / 1000 < NOISY) return;
  }
}
