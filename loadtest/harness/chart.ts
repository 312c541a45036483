/**
 * The chart of a run, drawn by Apache ECharts' server-side SVG renderer (no browser, no DOM):
 * one column per workload, requests/s on top and p99 latency below, a bar per lane and runtime.
 * https://echarts.apache.org/handbook/en/how-to/cross-platform/server/
 */
import * as echarts from "echarts";
import type { BenchLane, BenchReport, BenchResult } from "./report.ts";

const LANE_COLORS: Record<BenchLane, string> = { direct: "#9aa0a6", isolate: "#1a73e8", process: "#e8710a" };
const PANEL_W = 250;
const PANEL_H = 220;
const LEFT = 70;
const TOP = 115;
const GAP_X = 40;
const GAP_Y = 70;

export function chartSvg(report: BenchReport): string {
  const ok = report.results.filter((r) => !r.checkError);
  const workloads = [...new Set(ok.map((r) => r.workload))];
  const runtimes = [...new Set(ok.map((r) => r.runtime))];
  const lanes = (["direct", "isolate", "process"] as const).filter((l) => ok.some((r) => r.lane === l));
  const rows: { key: "rps" | "p99Ms"; label: string }[] = [
    { key: "rps", label: "requests/s (higher is better)" },
    { key: "p99Ms", label: "p99 latency, ms (lower is better)" },
  ];
  const width = LEFT + workloads.length * (PANEL_W + GAP_X);
  const height = TOP + rows.length * (PANEL_H + GAP_Y) + 20;

  const grid: object[] = [];
  const xAxis: object[] = [];
  const yAxis: object[] = [];
  const series: object[] = [];
  const title: object[] = [
    {
      text: "lanes bench: what each lane costs",
      subtext: `${report.meta.cpuModel}, ${report.meta.cores} cores · ${report.meta.connections} connections, ${report.meta.durationS} s per cell · ${report.meta.startedAt.slice(0, 10)}`,
      left: LEFT - 50,
      top: 8,
    },
  ];
  rows.forEach((row, ri) => {
    workloads.forEach((workload, wi) => {
      const i = grid.length;
      const left = LEFT + wi * (PANEL_W + GAP_X);
      const top = TOP + ri * (PANEL_H + GAP_Y);
      grid.push({ left, top, width: PANEL_W, height: PANEL_H });
      title.push({ text: ri === 0 ? workload : "", subtext: wi === 0 ? row.label : "", left, top: top - 42, textStyle: { fontSize: 14 } });
      xAxis.push({ type: "category", gridIndex: i, data: runtimes });
      yAxis.push({ type: "value", gridIndex: i, axisLabel: { fontSize: 10 } });
      for (const lane of lanes) {
        series.push({
          name: lane,
          type: "bar",
          xAxisIndex: i,
          yAxisIndex: i,
          itemStyle: { color: LANE_COLORS[lane] },
          data: runtimes.map((rt) => value(ok, workload, lane, rt, row.key)),
        });
      }
    });
  });

  return renderSvg({ title, legend: { data: [...lanes], top: 14, right: 20 }, grid, xAxis, yAxis, series }, width, height);
}

/** An ECharts option drawn to an SVG string, without animation, on white (`lanes load` draws with it too). */
export function renderSvg(option: object, width: number, height: number): string {
  const chart = echarts.init(null, null, { renderer: "svg", ssr: true, width, height });
  try {
    chart.setOption({ animation: false, backgroundColor: "#ffffff", ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

function value(results: BenchResult[], workload: string, lane: BenchLane, runtime: string, key: "rps" | "p99Ms"): number | null {
  const r = results.find((x) => x.workload === workload && x.lane === lane && x.runtime === runtime);
  return r ? Math.round(r[key] * 10) / 10 : null;
}
