/**
 * What the OS sandbox costs a process-lane cold start: one host with `ROUNDS` functions in
 * sandboxed children and as many with "sandbox": "off", all the same tiny function, each cold
 * until its first request. Cold start = first request minus a warm one to the same function,
 * measured in turns (sandboxed, unsandboxed, ...) so machine noise falls on both alike.
 */
import type { CellContext } from "./cells.ts";
import { startLanesHost } from "./host-process.ts";
import type { BenchRuntime, SandboxCost } from "./report.ts";
import { CRASH_ENTRY } from "./workspace.ts";

const WARM_SAMPLES = 5;

export async function runSandboxCost(c: CellContext, runtime: BenchRuntime): Promise<SandboxCost> {
  const rounds = c.opts.quick ? 3 : 7;
  const fn = (i: number, sandbox: "required" | "off") => ({
    entry: CRASH_ENTRY,
    route: `/__lanes_bench_${sandbox}_${i}`,
    lane: "process" as const,
    runtime,
    sandbox,
    instances: { min: 0, max: 1 },
  });
  const functions: Record<string, ReturnType<typeof fn>> = {};
  for (let i = 0; i < rounds; i++) {
    functions[`on${i}`] = fn(i, "required");
    functions[`off${i}`] = fn(i, "off");
  }
  c.ws.writeManifest(functions);
  c.onPhase("sandbox cost");
  const host = await startLanesHost(runtime, c.binary(runtime), c.ws.dir);
  try {
    const on: number[] = [];
    const off: number[] = [];
    for (let i = 0; i < rounds; i++) {
      c.onPhase(`sandbox cost ${i + 1}/${rounds}`);
      on.push(await coldStart(host.url + functions[`on${i}`]!.route));
      off.push(await coldStart(host.url + functions[`off${i}`]!.route));
    }
    return { runtime, sandboxedMs: on, unsandboxedMs: off, medianSandboxedMs: median(on), medianUnsandboxedMs: median(off) };
  } finally {
    await host.stop();
  }
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
