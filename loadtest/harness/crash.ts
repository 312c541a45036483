/**
 * What a crashing instance does to each lane, measured: while another function in the same host
 * takes a steady trickle of requests, one request makes its instance die, first by an uncaught
 * error (`exit`), then by a native abort (`abort`). Counted: the crashing request's status, the
 * other function's failed requests, whether the host lived, and how long until the crashed
 * function answered again.
 */
import type { CellContext } from "./cells.ts";
import { startLanesHost, type HostProcess } from "./host-process.ts";
import type { BenchRuntime, CrashResult } from "./report.ts";
import { CRASH_ENTRY } from "./workspace.ts";

const CRASH_ROUTE = "/__lanes_bench_crash";
const OTHER_ROUTE = "/__lanes_bench_other";
/** How long the other function's trickle lasts, the crash a quarter of the way in (`--quick`: half as long). */
const TRICKLE_MS = 1500;
const RECOVERY_LIMIT_MS = 5000;

export async function runCrashProbes(c: CellContext, lane: "isolate" | "process", runtime: BenchRuntime): Promise<CrashResult[]> {
  const fn = (route: string) => ({ entry: CRASH_ENTRY, route, lane, instances: { min: 1, max: 1 } });
  c.ws.writeManifest({ crash: fn(CRASH_ROUTE), other: fn(OTHER_ROUTE) });
  c.onPhase("crash probe");
  const host = await startLanesHost(runtime, c.binary(runtime), c.ws.dir);
  try {
    const out: CrashResult[] = [];
    for (const mode of ["exit", "abort"] as const) {
      if (!host.alive()) break;
      c.onPhase(`crash probe: ${mode}`);
      out.push(await probe(host, lane, runtime, mode, c.opts.quick ? TRICKLE_MS / 2 : TRICKLE_MS));
    }
    return out;
  } finally {
    await host.stop();
  }
}

async function status(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0; // connection refused or reset: the host is gone
  }
}

async function probe(host: HostProcess, lane: "isolate" | "process", runtime: BenchRuntime, mode: "exit" | "abort", trickleMs: number): Promise<CrashResult> {
  let sent = 0;
  let failed = 0;
  const until = Date.now() + trickleMs;
  const trickle = async () => {
    while (Date.now() < until) {
      sent++;
      if ((await status(host.url + OTHER_ROUTE)) !== 200) failed++;
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const others = Promise.all([trickle(), trickle()]);
  await new Promise((r) => setTimeout(r, trickleMs / 4));
  const crashStatus = await status(`${host.url}${CRASH_ROUTE}?mode=${mode}`);
  const crashedAt = Date.now();
  let recoveryMs: number | null = null;
  while (Date.now() - crashedAt < RECOVERY_LIMIT_MS) {
    if ((await status(host.url + CRASH_ROUTE)) === 200) {
      recoveryMs = Date.now() - crashedAt;
      break;
    }
    if (!host.alive()) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  await others;
  const hostSurvived = host.alive() && (await status(host.url + OTHER_ROUTE)) === 200;
  return { lane, runtime, mode, crashStatus, hostSurvived, othersFailed: failed, othersSent: sent, recoveryMs };
}
