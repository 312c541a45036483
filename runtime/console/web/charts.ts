/**
 * The console's charts, with Apache ECharts, the library `lanes bench` draws its SVG with: only
 * the parts used (line and bar charts, grid, legend, tooltip, the SVG renderer) are bundled.
 * Tooltips are drawn as SVG text (renderMode "richText"): ECharts' HTML tooltips set inline
 * styles, which the console's Content-Security-Policy refuses.
 * https://echarts.apache.org/handbook/en/basics/import/#shrinking-bundle-size
 */
import { BarChart, LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { SVGRenderer } from "echarts/renderers";

echarts.use([LineChart, BarChart, GridComponent, LegendComponent, TooltipComponent, SVGRenderer]);

/** A colour from the stylesheet (light or dark scheme). */
export function color(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim() || "#888";
}

export const LANE_COLOR = { direct: "c-direct", isolate: "c-isolate", process: "c-process" } as const;

const live = new Set<echarts.ECharts>();
const observer = new ResizeObserver((entries) => {
  for (const e of entries) echarts.getInstanceByDom(e.target as HTMLElement)?.resize();
});

function init(el: HTMLElement): echarts.ECharts {
  const chart = echarts.init(el, null, { renderer: "svg" });
  live.add(chart);
  observer.observe(el);
  return chart;
}

/** Dispose every chart (a page is left). */
export function disposeCharts(): void {
  for (const c of live) {
    observer.unobserve(c.getDom());
    c.dispose();
  }
  live.clear();
}

function textStyle() {
  return { color: color("muted"), fontFamily: getComputedStyle(document.body).fontFamily, fontSize: 11 };
}

export interface Line {
  name: string;
  color: string;
  /** [epoch ms, value] */
  data: [number, number | null][];
  /** Draw each point as a dot: a figure that is null between requests (latency) still shows when alone. */
  dots?: boolean;
}

/** A line chart over time; `spark`: no axes or legend, for a table cell. Returns an updater. */
export function timeChart(el: HTMLElement, lines: Line[], o: { unit: string; spark?: boolean }): (lines: Line[]) => void {
  const chart = init(el);
  const option = (ls: Line[]) => ({
    animation: false,
    textStyle: textStyle(),
    grid: o.spark ? { left: 2, right: 2, top: 3, bottom: 3 } : { left: 46, right: 12, top: 30, bottom: 24 },
    legend: o.spark ? { show: false } : { top: 0, right: 0, textStyle: textStyle(), itemWidth: 14, itemHeight: 8 },
    tooltip: o.spark ? { show: false } : { trigger: "axis", renderMode: "richText", valueFormatter: (v: unknown) => (typeof v === "number" ? `${fmt(v)} ${o.unit}` : "–") },
    xAxis: { type: "time", show: !o.spark, axisLabel: { ...textStyle(), hideOverlap: true }, splitLine: { show: false }, axisLine: { lineStyle: { color: color("line") } } },
    yAxis: {
      type: "value",
      show: !o.spark,
      min: 0,
      axisLabel: { ...textStyle(), formatter: (v: number) => fmt(v) },
      splitLine: { lineStyle: { color: color("line") } },
    },
    series: ls.map((l) => ({
      name: l.name,
      type: "line",
      data: l.data,
      showSymbol: l.dots === true,
      symbol: "circle",
      symbolSize: o.spark ? 3 : 4,
      connectNulls: false,
      lineStyle: { width: o.spark ? 1.5 : 2, color: l.color },
      itemStyle: { color: l.color },
      areaStyle: o.spark ? { color: l.color, opacity: 0.12 } : undefined,
    })),
  });
  chart.setOption(option(lines));
  return (ls) => chart.setOption(option(ls), { replaceMerge: ["series"] });
}

export interface Bars {
  name: string;
  color: string;
  data: (number | null)[];
}

/** Grouped bars: one group per category, one bar per series. */
export function barChart(el: HTMLElement, categories: string[], bars: Bars[], o: { unit: string }): void {
  const chart = init(el);
  chart.setOption({
    animation: false,
    textStyle: textStyle(),
    grid: { left: 48, right: 8, top: 12, bottom: 24 },
    legend: { show: false },
    tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: (v: unknown) => (typeof v === "number" ? `${fmt(v)} ${o.unit}` : "–") },
    xAxis: { type: "category", data: categories, axisLabel: textStyle(), axisLine: { lineStyle: { color: color("line") } } },
    yAxis: { type: "value", axisLabel: { ...textStyle(), formatter: (v: number) => fmt(v) }, splitLine: { lineStyle: { color: color("line") } } },
    series: bars.map((b) => ({ name: b.name, type: "bar", data: b.data, itemStyle: { color: b.color, borderRadius: [3, 3, 0, 0] }, barMaxWidth: 22 })),
  });
}

function fmt(v: number): string {
  if (v === 0) return "0";
  if (Math.abs(v) >= 1000) return `${Math.round(v / 100) / 10}k`;
  if (Math.abs(v) >= 10) return String(Math.round(v));
  return String(Math.round(v * 100) / 100);
}
