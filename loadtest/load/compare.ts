/** `--compare FILE`: this run against an earlier `--json` run, figure by figure, saying which way each moved. */
import { readFileSync } from "node:fs";
import { render } from "../harness/table.ts";
import type { LoadReport } from "./report.ts";
import { describeRun, ms, rate } from "./table.ts";

/** A change smaller than this (relative) is "same": runs on a busy machine differ by more. */
export const SAME_WITHIN = 0.01;

export type Verdict = "better" | "worse" | "same";

export interface Change {
  figure: string;
  before: number;
  now: number;
  /** now - before, relative to before (shares: in percentage points). */
  change: number;
  verdict: Verdict;
}

/** The earlier run, or why the file cannot be one. */
export function readBaseline(file: string): LoadReport | { error: string } {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    return { error: `cannot read it as JSON (${(e as Error).message})` };
  }
  const r = data as Partial<LoadReport>;
  if (typeof r !== "object" || r === null || r.version !== 1 || !r.latencyMs || !r.rate || !r.errors || !r.meta) {
    return { error: "it is not the JSON of a `lanes load --json` run (version 1)" };
  }
  // each figure the comparison reads, checked now: a file that lacks one is refused before any load
  for (const { figure, pick } of FIGURES) {
    let n: unknown;
    try {
      n = pick(r as LoadReport);
    } catch {
      n = undefined;
    }
    if (typeof n !== "number" || !Number.isFinite(n)) return { error: `it has no ${figure} as a number: it is not the JSON of a whole \`lanes load --json\` run` };
  }
  return r as LoadReport;
}

type Pick = (r: LoadReport) => number;
const FIGURES: { figure: string; pick: Pick; higherIsBetter: boolean; share?: boolean; unit?: "ms" }[] = [
  { figure: "rate", pick: (r) => r.rate.achieved, higherIsBetter: true },
  { figure: "latency p50", pick: (r) => r.latencyMs.p50, higherIsBetter: false, unit: "ms" },
  { figure: "latency p90", pick: (r) => r.latencyMs.p90, higherIsBetter: false, unit: "ms" },
  { figure: "latency p99", pick: (r) => r.latencyMs.p99, higherIsBetter: false, unit: "ms" },
  { figure: "latency p99.9", pick: (r) => r.latencyMs.p99_9, higherIsBetter: false, unit: "ms" },
  { figure: "latency max", pick: (r) => r.latencyMs.max, higherIsBetter: false, unit: "ms" },
  { figure: "latency mean", pick: (r) => r.latencyMs.mean, higherIsBetter: false, unit: "ms" },
  { figure: "errors", pick: (r) => r.errors.share, higherIsBetter: false, share: true },
  { figure: "non-2xx", pick: (r) => (r.requests.answered ? r.non2xx / r.requests.answered : 0), higherIsBetter: false, share: true },
];

export function compareRuns(before: LoadReport, now: LoadReport): Change[] {
  return FIGURES.map(({ figure, pick, higherIsBetter, share }) => {
    const b = pick(before);
    const n = pick(now);
    const change = share ? n - b : b === 0 ? (n === 0 ? 0 : Infinity) : (n - b) / b;
    const same = share ? Math.abs(change) < 0.0001 : Math.abs(change) < SAME_WITHIN;
    const verdict: Verdict = same ? "same" : n > b === higherIsBetter ? "better" : "worse";
    return { figure, before: b, now: n, change, verdict };
  });
}

export function formatCompare(file: string, before: LoadReport, now: LoadReport): string {
  const changes = compareRuns(before, now);
  const show = (figure: string, x: number) => {
    const f = FIGURES.find((g) => g.figure === figure)!;
    return f.share ? `${(x * 100).toFixed(2)}%` : f.unit === "ms" ? ms(x) : rate(x);
  };
  const rows = changes.map((c) => {
    const share = FIGURES.find((g) => g.figure === c.figure)!.share;
    const change = share
      ? `${c.change >= 0 ? "+" : ""}${(c.change * 100).toFixed(2)} pt`
      : Number.isFinite(c.change)
        ? `${c.change >= 0 ? "+" : ""}${(c.change * 100).toFixed(1)}%`
        : "new";
    return [c.figure, show(c.figure, c.before), show(c.figure, c.now), change, c.verdict];
  });
  const differs = differences(before, now);
  return [
    `compared with ${file} (${before.meta.startedAt}):`,
    render(["figure", "before", "now", "change", ""], rows, [false, true, true, true, false]),
    ...(differs.length ? [`note: the runs differ (${differs.join("; ")}), so the figures are not like for like`, `  before: ${describeRun(before)}`] : []),
    "",
  ].join("\n");
}

function differences(a: LoadReport, b: LoadReport): string[] {
  const out: string[] = [];
  const keys = ["url", "method", "model", "rate", "connections", "durationS", "bodyBytes"] as const;
  for (const k of keys) if (a.meta[k] !== b.meta[k]) out.push(`${k} ${JSON.stringify(a.meta[k])} then, ${JSON.stringify(b.meta[k])} now`);
  // a run stopped with Ctrl-C measured only its first seconds
  for (const [r, when] of [
    [a, "then"],
    [b, "now"],
  ] as const) {
    if (r.meta.interruptedAtS !== undefined) out.push(`interrupted after ${r.meta.interruptedAtS} of ${r.meta.durationS} s ${when}`);
  }
  return out;
}
