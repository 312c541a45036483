/**
 * "Which lane suits this function", computed from its own figures rather than recited: the
 * throughput each lane kept, the share of a request's time that is CPU, how many bytes cross the
 * lane per request, the memory an idle instance costs, and whether it crashed under load.
 */
import type { Advice, BenchResult, BenchRuntime, CrashResult } from "./report.ts";

/** Below this difference in requests/s, the lanes are a tie and memory decides. */
const TIE = 0.1;
/** A function that spends this share of a request on CPU is CPU-bound. */
const CPU_BOUND = 0.5;
/** Bodies from this size up cost noticeably more copied through a pipe than transferred between threads. */
const BIG_BODY = 64 * 1024;

const pct = (x: number) => `${Math.round(x * 100)}%`;
const n0 = (x: number) => Math.round(x).toLocaleString("en-US");

export function adviseAll(results: BenchResult[], crashes: CrashResult[], prefer: BenchRuntime): Advice[] {
  const runtimes = [...new Set(results.map((r) => r.runtime))];
  const runtime = runtimes.includes(prefer) ? prefer : runtimes[0];
  if (!runtime) return [];
  const workloads = [...new Set(results.map((r) => r.workload))];
  return workloads.flatMap((w) => {
    const a = advise(
      results.filter((r) => r.workload === w),
      crashes,
      runtime,
    );
    return a ? [a] : [];
  });
}

export function advise(mine: BenchResult[], crashes: CrashResult[], runtime: BenchRuntime): Advice | undefined {
  const get = (lane: string) => mine.find((r) => r.lane === lane && r.runtime === runtime && !r.checkError);
  const iso = get("isolate");
  const proc = get("process");
  const direct = get("direct");
  const name = mine[0]?.workload;
  if (!name || !iso || !proc) return undefined;
  const on = `on ${runtime}`;
  const facts: string[] = [];
  const cpuShare = direct && direct.warmMs > 0 ? Math.min(1, direct.cpuMsPerRequest / direct.warmMs) : undefined;
  if (cpuShare !== undefined) facts.push(`${pct(cpuShare)} of a request is CPU`);
  const bytes = iso.requestBytes + iso.responseBytes;
  if (bytes >= BIG_BODY) facts.push(`${n0(bytes / 1024)} KiB cross the lane per request`);
  facts.push(`an idle instance costs ${iso.idleInstanceMb?.toFixed(1) ?? "?"} MB as an isolate, ${proc.idleInstanceMb?.toFixed(1) ?? "?"} MB as a process`);
  const restarts = mine.filter((r) => r.runtime === runtime).reduce((n, r) => n + r.restarts, 0);
  const ratio = proc.rps / iso.rps;
  const speeds = `${n0(iso.rps)} req/s as an isolate vs ${n0(proc.rps)} as a process${direct ? ` (direct: ${n0(direct.rps)})` : ""}`;

  if (restarts > 0) {
    return {
      function: name,
      lane: "process",
      why: `its instances crashed ${restarts} time(s) under load ${on}; a crash in the process lane stays in that child (${speeds}; ${facts.join("; ")})`,
    };
  }
  const abort = crashes.find((c) => c.runtime === runtime && c.lane === "isolate" && c.mode === "abort");
  const hardCrashNote = abort && !abort.hostSurvived ? "; a native crash in an isolate took the whole host down in the crash probe" : "";
  if (ratio > 1 + TIE) {
    const why = cpuShare !== undefined && cpuShare >= CPU_BOUND ? "CPU-bound, and each child is a whole process on its own core" : "faster";
    return { function: name, lane: "process", why: `${why}: ${speeds}, ${pct(ratio - 1)} more ${on}; ${facts.join("; ")}` };
  }
  if (ratio < 1 - TIE) {
    const why = bytes >= BIG_BODY ? "bodies move between threads by transfer, not copied through a pipe" : "one message hop costs less than IPC";
    return { function: name, lane: "isolate", why: `${why}: ${speeds}, ${pct(1 / ratio - 1)} more ${on}; ${facts.join("; ")}${hardCrashNote}` };
  }
  const cheaper = (iso.idleInstanceMb ?? Infinity) <= (proc.idleInstanceMb ?? Infinity) ? "isolate" : "process";
  return {
    function: name,
    lane: cheaper,
    why: `throughput within ${pct(TIE)} (${speeds}) ${on}, so memory decides; ${facts.join("; ")}${cheaper === "isolate" ? hardCrashNote : ""}`,
  };
}
