/** The terminal report of a load run: what ran, a table of its figures, the generator's verdict, thresholds. */
import { render } from "../harness/table.ts";
import { LATE_MS } from "./options.ts";
import { ERROR_KINDS } from "./recorder.ts";
import type { LoadReport } from "./report.ts";
import { pct } from "./summarize.ts";

export const ms = (x: number) => `${x < 10 ? x.toFixed(2) : x < 1000 ? x.toFixed(1) : Math.round(x).toLocaleString("en-US")} ms`;
export const n0 = (x: number) => Math.round(x).toLocaleString("en-US");
export const rate = (x: number) => `${x.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 })} req/s`;

export function bytes(b: number): string {
  const units = ["B", "kB", "MB", "GB"];
  let i = 0;
  while (b >= 1000 && i < units.length - 1) {
    b /= 1000;
    i++;
  }
  return `${i === 0 ? b : b.toFixed(1)} ${units[i]}`;
}

/** One line saying which model ran, and so how to read its latencies (`short`: without the why). */
export function describeRun(r: LoadReport, short = false): string {
  const m = r.meta;
  if (m.model === "open") {
    return `open model: ${m.rate} req/s for ${m.durationS} s, latency from each request's intended start · at most ${m.connections} connections, timeout ${m.timeoutS} s`;
  }
  const why = short ? "" : " (a stall slows the senders: it shows in max, hardly in percentiles; --rate measures it)";
  return `closed model: ${m.connections} connections for ${m.durationS} s, each sends when its last answer is in${why} · timeout ${m.timeoutS} s`;
}

export function formatLoad(r: LoadReport, files: { json?: string; chart?: string }): string {
  const l = r.latencyMs;
  const q = r.requests;
  const statuses = Object.entries(r.status)
    .map(([code, n]) => `${code}: ${n0(n)}`)
    .join(", ");
  // with no answer there is no latency: 0.00 ms read as a fast server
  const lat = (x: number) => (q.answered === 0 ? "– (no answer)" : ms(x));
  const rows: string[][] = [
    ["rate", `${rate(r.rate.achieved)}${r.rate.asked === null ? "" : ` (asked ${r.rate.asked})`}`],
    ["requests", `${n0(q.sent)} sent, ${n0(q.answered)} answered, ${n0(q.failed)} failed${q.notStarted ? `, ${n0(q.notStarted)} never started` : ""}`],
    ["latency p50", lat(l.p50)],
    ["latency p90", lat(l.p90)],
    ["latency p99", lat(l.p99)],
    ["latency p99.9", lat(l.p99_9)],
    ["latency max", lat(l.max)],
    ["latency mean", lat(l.mean)],
    ["status", statuses || "none"],
    ["non-2xx", r.non2xx ? `${n0(r.non2xx)} (${pct(r.non2xx / Math.max(1, q.answered))} of answers)` : "0"],
    ["errors", `${ERROR_KINDS.map((k) => `${k} ${n0(r.errors[k])}`).join(", ")}${r.errors.total ? ` (${pct(r.errors.share)})` : ""}`],
    ["received", `${bytes(r.bytes.received)} (${bytes(r.bytes.perSecond)}/s)`],
  ];
  const samples = ERROR_KINDS.flatMap((k) => (r.errors.samples[k] ? [`  ${k}: ${r.errors.samples[k]}`] : []));
  return [
    `lanes load: ${r.meta.method} ${r.meta.url}`,
    describeRun(r),
    ...(r.meta.interruptedAtS === undefined ? [] : [`! interrupted after ${r.meta.interruptedAtS} of ${r.meta.durationS} s: these are the figures of that part of the run`]),
    `${r.meta.generator} · ${r.meta.machine.cpuModel}, ${r.meta.machine.cores} cores`,
    "",
    render(["figure", "value"], rows, [false, false]),
    ...(samples.length ? ["", "first error of each kind:", ...samples] : []),
    "",
    generatorVerdict(r),
    ...thresholdLines(r),
    ...(files.json || files.chart ? [""] : []),
    ...(files.json ? [`results: ${files.json}`] : []),
    ...(files.chart ? [`chart:   ${files.chart}`] : []),
    "",
  ].join("\n");
}

function generatorVerdict(r: LoadReport): string {
  const g = r.generator;
  const busy = `${g.cpuCores.toFixed(2)} of a core busy`;
  if (r.meta.model === "closed") {
    if (!g.keptUp) return ["! the load generator may have set the rate, not the server:", ...g.problems.map((p) => `  - ${p}`)].join("\n");
    return `load generator: closed model, ${busy}; the rate above is what the server allowed with these connections`;
  }
  if (!g.keptUp) return ["! the load generator did NOT keep up with the rate; these figures are not the server's alone:", ...g.problems.map((p) => `  - ${p}`)].join("\n");
  const lag = g.startLagMs!;
  return (
    `load generator kept up, ${busy}: requests started on schedule (lag p50 ${lag.p50.toFixed(1)} ms, p99 ${lag.p99.toFixed(1)} ms, max ${lag.max.toFixed(1)} ms; ` +
    `${g.late} later than ${LATE_MS} ms), ${g.connectionsOpened} connections opened, ${g.peakInFlight} requests in flight at most`
  );
}

function thresholdLines(r: LoadReport): string[] {
  if (r.thresholds.length === 0) return [];
  const width = Math.max(...r.thresholds.map((t) => t.expr.length));
  return ["", "thresholds:", ...r.thresholds.map((t) => `  ${t.ok ? "pass" : "FAIL"}  ${t.expr.padEnd(width)}  ${t.text}`)];
}
