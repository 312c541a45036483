/**
 * `lanes bench --density N --mixed`: the figure users meet first. One host with N hello
 * functions, half in each lane (the isolate half packed unless `--pack=false`), `instances.min`
 * 0 and an `idleMs` longer than the run, each called once in turn once the start-up load check is
 * over: the time to first-call all N, and then the RSS of the host and of its children. With
 * `--cli` it measures another checkout's lanes (to compare with before), without `pack`.
 */
import { rmSync } from "node:fs";
import { Agent } from "node:http";
import { childrenMemory, generate, get, MB, nameOf, noLatencies, percentiles, settle, warmFunctions, type Latencies } from "./density-kit.ts";
import { startLanesHost, type HostProcess } from "./host-process.ts";
import { rssBytes } from "./proc.ts";
import type { BenchRuntime } from "./report.ts";

/** Longer than any run: every function is still loaded when the memory is read. */
const KEEP_LOADED_MS = 3_600_000;

export interface MixedOptions {
  count: number;
  runtimes: BenchRuntime[];
  pack: boolean;
  scratch: string;
  binary(runtime: BenchRuntime): string;
  /** Another checkout's runtime/cli/lanes.ts. */
  cli?: string;
  onPhase(phase: string): void;
}

export interface DensityMixed {
  runtime: BenchRuntime;
  functions: number;
  packed: boolean;
  cli?: string;
  listeningMs: number;
  /** Calling each function once, in turn, one request at a time. */
  firstCallAllMs: number;
  isolateColdMs: Latencies;
  processColdMs: Latencies;
  hostRssMb: number;
  children: number;
  childrenRssMb: number;
  non200: number;
  error?: string;
}

export async function runMixed(o: MixedOptions): Promise<DensityMixed[]> {
  const out: DensityMixed[] = [];
  for (const runtime of o.runtimes) out.push(await mixedOn(o, runtime));
  return out;
}

async function mixedOn(o: MixedOptions, runtime: BenchRuntime): Promise<DensityMixed> {
  // even functions in the isolate lane, odd ones in the process lane (children on the host's runtime)
  const dir = generate(o.scratch, `mixed-${runtime}`, o.count, (name, i) => ({
    ...(i % 2 === 1 ? { lane: "process", runtime } : o.pack ? { pack: true } : {}),
    instances: { min: 0, idleMs: KEEP_LOADED_MS },
    route: `/${name}`,
  }));
  const r: DensityMixed = {
    runtime,
    functions: o.count,
    packed: o.pack,
    ...(o.cli ? { cli: o.cli } : {}),
    listeningMs: NaN,
    firstCallAllMs: NaN,
    isolateColdMs: noLatencies(),
    processColdMs: noLatencies(),
    hostRssMb: NaN,
    children: 0,
    childrenRssMb: NaN,
    non200: 0,
  };
  let host: HostProcess | undefined;
  try {
    o.onPhase(`mixed · ${runtime}: starting a host with ${o.count} functions`);
    const t0 = performance.now();
    host = await startLanesHost(runtime, o.binary(runtime), dir, o.cli ? { cli: o.cli } : {});
    r.listeningMs = performance.now() - t0;
    o.onPhase(`mixed · ${runtime}: waiting for the start-up load check`);
    await settle(host.pid);
    const warmAtStart = await warmFunctions(host.url);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const cold: [number[], number[]] = [[], []];
    const c0 = performance.now();
    for (let i = 0; i < o.count; i++) {
      if (i % 20 === 0) o.onPhase(`mixed · ${runtime}: first request to each function, ${i}/${o.count}`);
      const a = await get(agent, `${host.url}/${nameOf(i)}`);
      if (a.status !== 200) r.non200++;
      if (!warmAtStart.has(nameOf(i))) cold[i % 2]!.push(a.ms); // left warm by the load check: no cold start
    }
    r.firstCallAllMs = performance.now() - c0;
    agent.destroy();
    r.isolateColdMs = percentiles(cold[0]);
    r.processColdMs = percentiles(cold[1]);
    r.hostRssMb = rssBytes(host.pid) / MB;
    const kids = childrenMemory(host.pid);
    r.children = kids.count;
    r.childrenRssMb = kids.rssMb;
  } catch (e) {
    r.error = (e as Error).message.split("\n")[0];
  } finally {
    await host?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return r;
}

/** The issue's table: first call to all N, host RSS after, children RSS after. */
export function mixedTable(rows: DensityMixed[]): string {
  const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : "-");
  const lines = [
    "| host | lanes | functions | first call to all s | isolate cold p50 / p99 ms | process cold p50 / p99 ms | host RSS after MB | children RSS after MB | non-200 |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const x of rows) {
    const which = x.cli ? `${x.cli} (unpacked)` : x.packed ? "this checkout, packed" : "this checkout, unpacked";
    lines.push(
      `| ${x.runtime} | ${which} | ${x.functions} | ${f(x.firstCallAllMs / 1000, 1)} | ${f(x.isolateColdMs.p50, 1)} / ${f(x.isolateColdMs.p99, 1)} | ${f(x.processColdMs.p50, 1)} / ${f(x.processColdMs.p99, 1)} | ${f(x.hostRssMb)} | ${f(x.childrenRssMb)} for ${x.children} | ${x.non200}${x.error ? ` (${x.error})` : ""} |`,
    );
  }
  return lines.join("\n");
}
