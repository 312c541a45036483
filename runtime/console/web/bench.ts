/**
 * Bench: a `bench.json` from `lanes bench`, the one in this host's folder or one opened from
 * this machine (read here in the browser: it is never uploaded), drawn with ECharts as the
 * bench's own SVG is: per workload, requests/s, p99 and CPU per request, one bar per lane on
 * each host runtime, with the lane advice for it.
 */
import type { BenchReport, BenchResult } from "../../../loadtest/harness/report.ts";
import { ApiError, get } from "./api.ts";
import { barChart, color, disposeCharts, LANE_COLOR } from "./charts.ts";
import { fill, fmtNumber, h } from "./dom.ts";
import type { Page } from "./main.ts";

const LANES = ["direct", "isolate", "process"] as const;
const METRICS: { key: "rps" | "p99Ms" | "cpu"; title: string; unit: string; value(r: BenchResult): number }[] = [
  { key: "rps", title: "Requests/s", unit: "req/s", value: (r) => r.rps },
  { key: "p99Ms", title: "p99 latency", unit: "ms", value: (r) => r.p99Ms },
  { key: "cpu", title: "CPU per request", unit: "µs", value: (r) => r.cpuMsPerRequest * 1000 },
];

export const benchPage: Page = async (main) => {
  const status = h("p", { class: "muted", role: "status" }, "Loading this host's bench.json…");
  const results = h("div", { class: "bench-results" });
  const file = h("input", { id: "bench-file", type: "file", accept: ".json,application/json", class: "visually-hidden" }) as HTMLInputElement;
  const fromHost = h("button", { type: "button", class: "quiet" }, "This host's bench.json");
  fill(
    main,
    h(
      "div",
      { class: "page-head" },
      h("h1", { tabindex: "-1" }, "Bench"),
      h("p", { class: "muted" }, "What each lane costs, measured by ", h("code", {}, "lanes bench"), " on a machine: the host's own results, or a bench.json you open."),
    ),
    h("div", { class: "actions" }, fromHost, file, h("label", { for: "bench-file", class: "button quiet" }, "Open a bench.json…")),
    status,
    results,
  );
  const show = (report: unknown, source: string) => {
    disposeCharts();
    const problem = check(report);
    if (problem) {
      fill(status, `${source}: ${problem}`);
      status.className = "error";
      fill(results);
      return;
    }
    status.className = "muted";
    fill(status, `From ${source}.`);
    draw(results, report as BenchReport);
  };
  const loadHost = async () => {
    try {
      const r = await get<{ file: string; report: unknown }>("bench");
      show(r.report, r.file);
    } catch (e) {
      status.className = "muted";
      fill(status, e instanceof ApiError ? e.message : String(e));
    }
  };
  fromHost.addEventListener("click", () => void loadHost());
  file.addEventListener("change", async () => {
    const f = file.files?.[0];
    if (!f) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(await f.text());
    } catch {
      return show(null, f.name);
    }
    show(parsed, f.name);
  });
  await loadHost();
  return () => {};
};

/** Why this is not a bench.json, or undefined. */
function check(r: unknown): string | undefined {
  if (typeof r !== "object" || r === null) return "not a bench.json (it is not a JSON object)";
  const x = r as Partial<BenchReport>;
  if (!Array.isArray(x.results) || !x.meta) return "not a bench.json from lanes bench (no meta or results)";
  const bad = x.results.find((e) => typeof e?.workload !== "string" || typeof e.rps !== "number" || !LANES.includes(e.lane as never));
  return bad ? "not a bench.json from lanes bench (a result without workload, lane or rps)" : undefined;
}

function draw(el: HTMLElement, report: BenchReport): void {
  const ok = report.results.filter((r) => !r.checkError);
  const workloads = [...new Set(ok.map((r) => r.workload))];
  const runtimes = [...new Set(ok.map((r) => r.runtime))];
  const lanes = LANES.filter((l) => ok.some((r) => r.lane === l));
  const m = report.meta;
  const legend = h(
    "ul",
    { class: "legend", "aria-label": "Lanes" },
    ...lanes.map((l) => h("li", {}, h("span", { class: `swatch lane-${l}`, "aria-hidden": "true" }), l === "direct" ? "direct (no lane: the baseline)" : `${l} lane`)),
  );
  const cards = workloads.map((w) => {
    const charts = METRICS.map((metric) => ({ metric, el: h("div", { class: "chart small", role: "img", "aria-label": `${metric.title} of ${w} per runtime and lane` }) }));
    const advice = report.advice.find((a) => a.function === w);
    const card = h(
      "section",
      { class: "card bench-card", "aria-labelledby": `w-${w}` },
      h("h2", { id: `w-${w}`, class: "card-title" }, w),
      h("div", { class: "grid three" }, ...charts.map(({ metric, el: c }) => h("figure", {}, h("figcaption", {}, `${metric.title} (${metric.unit})`), c))),
      advice ? h("p", { class: "advice" }, h("strong", {}, `Advice: the ${advice.lane} lane. `), advice.why) : null,
    );
    return { card, charts, w };
  });
  fill(
    el,
    h(
      "p",
      { class: "muted" },
      `${m.cpuModel}, ${m.cores} cores, ${fmtNumber(m.memoryGb)} GB · ${m.connections} connections, ${m.durationS} s per cell · ${m.startedAt.slice(0, 10)} · ${Object.entries(
        m.versions,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}`,
    ),
    legend,
    ...cards.map((c) => c.card),
  );
  for (const { charts, w } of cards) {
    for (const { metric, el: c } of charts) {
      barChart(
        c,
        runtimes,
        lanes.map((lane) => ({
          name: lane,
          color: color(LANE_COLOR[lane]),
          data: runtimes.map((rt) => {
            const r = ok.find((x) => x.workload === w && x.lane === lane && x.runtime === rt);
            return r ? Math.round(metric.value(r) * 10) / 10 : null;
          }),
        })),
        { unit: metric.unit },
      );
    }
  }
}
