/**
 * What the density scenarios share: generated hello functions, one-at-a-time requests over one
 * keep-alive connection (so each latency is a client's own), waiting for a host to go quiet,
 * percentiles, and the memory of a host's children.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type Agent, request } from "node:http";
import { join } from "node:path";
import { processTree, rssBytes, usageBetween, usageSnapshot } from "./proc.ts";

export const MB = 1024 * 1024;
/** The host is settled (load check over) once its process tree uses less than this per second. */
const QUIET_CPU_MS = 60;
const SETTLE_CAP_MS = 600_000;

export interface Latencies {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export const noLatencies = (): Latencies => ({ p50: NaN, p90: NaN, p99: NaN, max: NaN });

export const nameOf = (i: number) => `fn-${String(i + 1).padStart(4, "0")}`;

/** A folder with `n` hello functions, each in its own file, and their manifest. */
export function generate(scratch: string, label: string, n: number, settings: (name: string, i: number) => Record<string, unknown>): string {
  const dir = join(scratch, `density-${label}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const functions: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const name = nameOf(i);
    writeFileSync(join(dir, `${name}.ts`), `export default {\n  fetch(): Response {\n    return new Response("hello from ${name}\\n");\n  },\n};\n`);
    functions[name] = { entry: `${name}.ts`, ...settings(name, i) };
  }
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions }, null, 1));
  return dir;
}

/**
 * The functions that have an instance now: once the load check is over, those it left warm
 * (README, lanes start). Their first request is no cold start, so the density figures leave
 * them out of the cold latencies.
 */
export async function warmFunctions(base: string): Promise<Set<string>> {
  const m = (await (await fetch(`${base}/_lanes/metrics`, { headers: { accept: "application/json" } })).json()) as { functions: { name: string; instances: unknown[] }[] };
  return new Set(m.functions.filter((f) => f.instances.length > 0).map((f) => f.name));
}

/** Wait until the host's process tree is quiet for two seconds in a row (its load check is over). */
export async function settle(pid: number): Promise<void> {
  const end = Date.now() + SETTLE_CAP_MS;
  let quiet = 0;
  let before = usageSnapshot(pid);
  while (quiet < 2 && Date.now() < end) {
    await sleep(1000);
    const after = usageSnapshot(pid);
    const used = usageBetween(pid, before, after);
    quiet = used.own.cpuMs + used.below.cpuMs < QUIET_CPU_MS ? quiet + 1 : 0;
    before = after;
  }
}

/** The processes below the host that run functions (bubblewrap's own small processes left out), and their RSS. */
export function childrenMemory(hostPid: number): { count: number; rssMb: number } {
  let count = 0;
  let rss = 0;
  for (const pid of processTree(hostPid).slice(1)) {
    const bytes = rssBytes(pid);
    rss += bytes;
    if (commOf(pid) !== "bwrap") count++;
  }
  return { count, rssMb: rss / MB };
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

export function get(agent: Agent, url: string): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(url, { agent }, (res) => {
      res.on("data", () => {});
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.on("error", reject);
    req.end();
  });
}

export function percentiles(xs: number[]): Latencies {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1] ?? NaN };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
