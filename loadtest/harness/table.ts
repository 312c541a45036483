/** The terminal report: throughput and latency per cell, then what each lane costs and risks. */
import type { BenchReport, BenchResult, CrashResult } from "./report.ts";
import { median } from "./rounds.ts";

type Row = string[];

/** Columns padded to their widest cell, a rule under the head; `right` aligns a column right. */
export function render(head: Row, rows: Row[], right: boolean[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: Row) =>
    r
      .map((cell, i) => (right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(head), widths.map((w) => "─".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Cores used by other processes during a cell above which its figures are marked "!". */
export const NOISY = 0.25;

/** The load generator's cores (autocannon, one thread) in a direct cell from which it, not the host, set the rate. */
export const GENERATOR_BOUND = 0.9;

/**
 * The direct cells whose rate the load generator set (its one thread near a full core), said
 * under the table: a lane's x direct there is measured against autocannon's ceiling, not the
 * host's (on 2 cores, Bun's and Deno's `body`: ../README.md, What the lanes cost).
 */
export function generatorNote(results: BenchResult[]): string[] {
  const bound = results.filter((r) => !r.checkError && r.lane === "direct" && r.generatorCores >= GENERATOR_BOUND);
  if (bound.length === 0) return [];
  const cells = bound.map((r) => `${r.workload} on ${r.runtime} (${r.generatorCores.toFixed(2)})`).join(", ");
  return [
    `note: autocannon used ${GENERATOR_BOUND}+ of a core in the direct cell of ${cells}: the load generator set that rate, not the host, so "x direct" there compares the lanes with autocannon's ceiling; "CPU ms/req" and "overhead µs" compare the hosts' work.`,
  ];
}

const n0 = (x: number) => Math.round(x).toLocaleString("en-US");
const n1 = (x: number) => x.toFixed(1);
const opt = (x: number | null, f: (x: number) => string) => (x === null ? "–" : f(x));

export function ratioToDirect(results: BenchResult[], r: BenchResult): number | null {
  if (r.xDirect !== undefined) return r.xDirect;
  const d = results.find((x) => x.workload === r.workload && x.runtime === r.runtime && x.lane === "direct");
  return d && d.rps > 0 && !r.checkError ? r.rps / d.rps : null;
}

export function throughputTable(results: BenchResult[]): string {
  const rows: Row[] = [];
  let last = "";
  for (const r of results) {
    const group = `${r.workload} ${r.runtime}`;
    const first = group !== last;
    last = group;
    if (r.checkError) {
      rows.push([first ? r.workload : "", first ? r.runtime : "", r.lane, "FAILED", "", "", "", "", "", "", "", "", ""]);
      continue;
    }
    const ratio = ratioToDirect(results, r);
    rows.push([
      first ? r.workload : "",
      first ? r.runtime : "",
      r.lane,
      n0(r.rps),
      r.lane === "direct" ? "1.00" : opt(ratio, (x) => x.toFixed(2)),
      n1(r.p50Ms),
      n1(r.p99Ms),
      String(r.errors),
      String(r.non2xx),
      n0(r.rssMb),
      r.cpuMsPerRequest.toFixed(3),
      opt(r.overheadUs ?? null, n0),
      r.foreignCpu >= NOISY ? `${r.foreignCpu.toFixed(2)} !` : r.foreignCpu.toFixed(2),
    ]);
  }
  return render(["workload", "runtime", "lane", "req/s", "x direct", "p50 ms", "p99 ms", "errors", "non-2xx", "RSS MB", "CPU ms/req", "overhead µs", "others' CPU"], rows, [
    false,
    false,
    false,
    true,
    true,
    true,
    true,
    true,
    true,
    true,
    true,
    true,
    true,
  ]);
}

function medianOrNull(xs: number[]): number | null {
  return xs.length === 0 ? null : median(xs);
}

export function describeCrash(c: CrashResult | undefined): string {
  if (!c) return "–";
  if (!c.hostSurvived) return `host died (${c.othersFailed}/${c.othersSent} other requests failed)`;
  const lost = c.othersFailed > 0 ? `, ${c.othersFailed}/${c.othersSent} other requests failed` : ", others unaffected";
  return `${c.crashStatus || "dropped"}, back in ${opt(c.recoveryMs, n0)} ms${lost}`;
}

/** Medians of the sandbox probe, e.g. "41 / 33 ms (+8)". */
export function describeSandboxCost(c: BenchReport["sandboxCosts"][number] | undefined): string {
  if (!c) return "–";
  if (c.error) return `not measured: ${c.error}`;
  const extra = c.medianSandboxedMs - c.medianUnsandboxedMs;
  return `${n0(c.medianSandboxedMs)} / ${n0(c.medianUnsandboxedMs)} ms (${extra >= 0 ? "+" : ""}${n0(extra)})`;
}

export function laneTable(report: BenchReport): string {
  const rows: Row[] = [];
  const runtimes = [...new Set(report.results.map((r) => r.runtime))];
  for (const runtime of runtimes) {
    for (const lane of ["isolate", "process"] as const) {
      const mine = report.results.filter((r) => r.runtime === runtime && r.lane === lane && !r.checkError);
      if (mine.length === 0) continue;
      const crash = (mode: "exit" | "abort") => report.crashes.find((c) => c.runtime === runtime && c.lane === lane && c.mode === mode);
      rows.push([
        runtime,
        lane,
        opt(medianOrNull(mine.flatMap((r) => (r.idleInstanceMb === null ? [] : [r.idleInstanceMb]))), n1),
        opt(medianOrNull(mine.flatMap((r) => (r.coldStartMs === null ? [] : [r.coldStartMs]))), n0),
        lane === "process" ? describeSandboxCost(report.sandboxCosts?.find((c) => c.runtime === runtime)) : "–",
        describeCrash(crash("exit")),
        describeCrash(crash("abort")),
      ]);
    }
  }
  return render(["runtime", "lane", "idle instance MB", "cold start ms", "child cold start: sandbox / none", "instance throws (uncaught)", "native abort"], rows, [
    false,
    false,
    true,
    true,
    false,
    false,
    false,
  ]);
}
