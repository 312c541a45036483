/**
 * The chart of a load run, drawn by ECharts' server-side SVG renderer as the bench's is: latency
 * over the run (p50, p99, max per time slice, by when each request started or was due), answers
 * and errors per second under it, and the latency distribution by percentile on the right (the
 * HdrHistogram "percentile plot": 90%, 99%, 99.9%... equally spaced, so the tail is readable).
 */
import { renderSvg } from "../harness/chart.ts";
import type { LoadReport } from "./report.ts";
import { describeRun } from "./table.ts";

const W = 1100;
const H = 625;
const LEFT = 70;
const TOP = 135;
const PANEL_W = 520;
const GAP_X = 90;
const LAT_H = 250;
const RATE_H = 130;
const GAP_Y = 70;

export function loadChartSvg(r: LoadReport): string {
  const slice = r.series.length > 1 ? r.series[1]!.atS - r.series[0]!.atS : 1;
  const perS = (n: number) => Math.round((n / slice) * 10) / 10;
  // log axes cannot show 0: an empty slice is a gap in the line
  const positive = (x: number) => (x > 0 ? x : null);
  const line = (name: string, color: string, pick: (s: LoadReport["series"][number]) => number) => ({
    name,
    type: "line",
    xAxisIndex: 0,
    yAxisIndex: 0,
    showSymbol: false,
    connectNulls: false,
    lineStyle: { width: 1.5, color },
    itemStyle: { color },
    data: r.series.map((s) => [s.atS, s.answered ? positive(pick(s)) : null]),
  });
  const dist = r.distribution.map((d) => [d.percentile >= 100 ? Math.max(10, r.requests.answered) : 1 / (1 - d.percentile / 100), positive(d.ms)]);
  const rightX = LEFT + PANEL_W + GAP_X;
  const left = r.meta.model === "open" ? "latency from each request's intended start, ms" : "latency, ms";
  return renderSvg(
    {
      title: [
        { text: `lanes load: ${r.meta.method} ${r.meta.url}`, subtext: `${describeRun(r, true)}\n${r.meta.startedAt.slice(0, 19)} · ${r.meta.generator}`, left: 20, top: 8 },
        { subtext: `${left}, over the run (s)`, left: LEFT - 10, top: TOP - 40 },
        { subtext: "answers and errors per second", left: LEFT - 10, top: TOP + LAT_H + GAP_Y - 40 },
        { subtext: "latency distribution, ms, by percentile", left: rightX - 10, top: TOP - 40 },
      ],
      legend: { data: ["p50", "p99", "max", "answers/s", "errors/s", "by percentile"], top: 72, right: 20 },
      grid: [
        { left: LEFT, top: TOP, width: PANEL_W, height: LAT_H },
        { left: LEFT, top: TOP + LAT_H + GAP_Y, width: PANEL_W, height: RATE_H },
        { left: rightX, top: TOP, width: W - rightX - 40, height: LAT_H + GAP_Y + RATE_H },
      ],
      xAxis: [
        { type: "value", gridIndex: 0, min: 0, max: r.meta.durationS, axisLabel: { fontSize: 10 } },
        { type: "value", gridIndex: 1, min: 0, max: r.meta.durationS, axisLabel: { fontSize: 10 } },
        {
          type: "log",
          gridIndex: 2,
          min: 1,
          axisLabel: { fontSize: 10, formatter: (x: number) => `${trim(100 * (1 - 1 / x))}%` },
          splitLine: { show: true },
        },
      ],
      yAxis: [
        { type: "log", gridIndex: 0, axisLabel: { fontSize: 10 } },
        { type: "value", gridIndex: 1, axisLabel: { fontSize: 10 } },
        { type: "log", gridIndex: 2, axisLabel: { fontSize: 10 } },
      ],
      series: [
        // max first, so p99 draws over it where they meet (a slice with few answers)
        line("max", "#d93025", (s) => s.maxMs),
        line("p99", "#e8710a", (s) => s.p99Ms),
        line("p50", "#1a73e8", (s) => s.p50Ms),
        {
          name: "answers/s",
          type: "bar",
          xAxisIndex: 1,
          yAxisIndex: 1,
          barCategoryGap: "0%",
          itemStyle: { color: "#9aa0a6" },
          data: r.series.map((s) => [s.atS + slice / 2, perS(s.answered)]),
        },
        {
          name: "errors/s",
          type: "bar",
          xAxisIndex: 1,
          yAxisIndex: 1,
          barGap: "-100%",
          itemStyle: { color: "#d93025" },
          data: r.series.map((s) => [s.atS + slice / 2, perS(s.errors)]),
        },
        { name: "by percentile", type: "line", xAxisIndex: 2, yAxisIndex: 2, symbolSize: 5, itemStyle: { color: "#188038" }, lineStyle: { color: "#188038" }, data: dist },
      ],
    },
    W,
    H,
  );
}

function trim(p: number): string {
  return String(Math.round(p * 1000) / 1000);
}
