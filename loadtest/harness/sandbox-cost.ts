/**
 * What the OS sandbox costs a process-lane cold start. One host with the same tiny function twice,
 * in sandboxed children and with "sandbox": "off", children on the host's runtime. Each round
 * ends the function's instance (an uncaught error, as a crash would) and waits until it is gone;
 * the next request starts a new one: its latency minus a warm request's is the cold start.
 * Rounds alternate sandboxed and unsandboxed, so noise from other processes falls on both alike.
 * (The host loads every function once after start-up: the first instance is never cold.)
 */
import { metrics, type CellContext, type Metrics } from "./cells.ts";
import { startLanesHost } from "./host-process.ts";
import type { BenchRuntime, SandboxCost } from "./report.ts";
import { CRASH_ENTRY } from "./workspace.ts";

const WARM_SAMPLES = 5;
const GONE_TIMEOUT_MS = 5000;
const WARMED_MS = 10_000;

export async function runSandboxCost(c: CellContext, runtime: BenchRuntime): Promise<SandboxCost> {
  const rounds = c.opts.quick ? 3 : 7;
  const fn = (sandbox: "required" | "off") => ({
    entry: CRASH_ENTRY,
    route: `/__lanes_bench_sandbox_${sandbox}`,
    lane: "process" as const,
    runtime,
    sandbox,
    instances: { min: 0, max: 1 },
  });
  const functions = { on: fn("required"), off: fn("off") };
  c.ws.writeManifest(functions);
  c.onPhase("sandbox cost");
  const host = await startLanesHost(runtime, c.binary(runtime), c.ws.dir);
  try {
    // the host's own first load of each function must be over, or it would start one mid-round
    await until(host.url, (m) => ["on", "off"].every((n) => (m.functions.find((f) => f.name === n)?.instances.length ?? 0) > 0), WARMED_MS);
    const ms = { on: [] as number[], off: [] as number[] };
    for (let i = 1; i <= rounds; i++) {
      c.onPhase(`sandbox cost ${i}/${rounds}`);
      for (const name of ["on", "off"] as const) {
        const url = host.url + functions[name].route;
        await restart(host.url, name, url);
        ms[name].push(await coldStart(url));
      }
    }
    return { runtime, sandboxedMs: ms.on, unsandboxedMs: ms.off, medianSandboxedMs: median(ms.on), medianUnsandboxedMs: median(ms.off) };
  } finally {
    await host.stop();
  }
}

/** End the function's instance and wait until the host has no instance of it left. */
async function restart(baseUrl: string, name: string, url: string): Promise<void> {
  const res = await fetch(`${url}?mode=exit`);
  await res.arrayBuffer();
  const gone = await until(baseUrl, (m) => m.functions.find((f) => f.name === name)?.instances.length === 0, GONE_TIMEOUT_MS);
  if (!gone) throw new Error(`${name}: its instance was not gone ${GONE_TIMEOUT_MS} ms after it crashed`);
}

/** Polls /_lanes/metrics until `check` holds (true) or `ms` pass (false). */
async function until(baseUrl: string, check: (m: Metrics) => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check(await metrics(baseUrl))) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

async function coldStart(url: string): Promise<number> {
  const first = await timed(url);
  const warm: number[] = [];
  for (let i = 0; i < WARM_SAMPLES; i++) warm.push(await timed(url));
  return Math.max(0, first - median(warm));
}

async function timed(url: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${text.slice(0, 200)}`);
  return performance.now() - t0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
