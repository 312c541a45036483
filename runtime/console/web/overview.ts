/**
 * Overview: the host (runtime, CPU, memory) and every function: route, lane and runtime,
 * version, instances, restarts, leaked threads, and requests/s and p50/p99 over the last
 * minutes as small charts, kept live by the stream. A function's charts are drawn, and redrawn
 * after each sample, only while its row is on screen (or near it): a host with hundreds of
 * functions made the page draw two charts per function every two seconds, and it froze.
 */
import { get, type FunctionRow, type LiveState, type Overview } from "./api.ts";
import { color, timeChart, type Line } from "./charts.ts";
import { fill, fmtAge, fmtBytes, fmtMs, fmtNumber, h, laneBadge } from "./dom.ts";
import { openStream } from "./live.ts";
import type { Page } from "./main.ts";

/** Points kept per chart: the server's five minutes. */
const POINTS = 150;

interface Points {
  t: number[];
  rps: (number | null)[];
  p50: (number | null)[];
  p99: (number | null)[];
}

export const overviewPage: Page = async (main) => {
  const data = await get<Overview>("overview");
  const names = data.functions.map((f) => f.name).join("\0");
  const host = data.host;
  const cpu = { t: [...host.series.t], v: host.series.points.map((p) => p.cpuCores) };
  const rss = { t: [...host.series.t], v: host.series.points.map((p) => p.rssBytes / 1048576) };

  const cpuNow = h("strong", { class: "stat-value" }, cores(host.cpuCores));
  const rssNow = h("strong", { class: "stat-value" }, fmtBytes(host.rssBytes));
  const rpsNow = h("strong", { class: "stat-value" }, "–");
  const fnNow = h("strong", { class: "stat-value" }, summary(data.functions));
  const cpuChart = h("div", { class: "spark", role: "img", "aria-label": "Host CPU over the last minutes" });
  const rssChart = h("div", { class: "spark", role: "img", "aria-label": "Host memory over the last minutes" });
  const rows = data.functions.map((f) => functionRow(f));
  const total = () => rows.reduce((n, r) => n + (r.points.rps[r.points.rps.length - 1] ?? 0), 0);
  rpsNow.textContent = `${fmtNumber(total())}`;

  fill(
    main,
    h(
      "div",
      { class: "page-head" },
      h("h1", { tabindex: "-1" }, "Overview"),
      h(
        "p",
        { class: "muted" },
        `${host.runtime} ${host.version} host · up ${fmtAge(Date.now() - host.startedAt)} · `,
        h("span", { id: "live", class: "live off" }, "Connecting…"),
      ),
    ),
    h(
      "section",
      { class: "stats", "aria-label": "Host" },
      h("div", { class: "stat card" }, h("span", { class: "stat-label" }, "Functions"), fnNow),
      h("div", { class: "stat card" }, h("span", { class: "stat-label" }, "Requests/s"), rpsNow),
      h("div", { class: "stat card" }, h("span", { class: "stat-label" }, "Host CPU"), cpuNow, cpuChart),
      h("div", { class: "stat card" }, h("span", { class: "stat-label" }, "Host memory"), rssNow, rssChart),
    ),
    h(
      "section",
      { class: "card flush", "aria-labelledby": "fn-title" },
      h("h2", { id: "fn-title", class: "card-title" }, "Functions"),
      data.functions.length === 0
        ? h("p", { class: "empty" }, "This host serves no function.")
        : h(
            "table",
            { class: "functions responsive" },
            h(
              "thead",
              {},
              h("tr", {}, ...["Function", "Lane", "Version", "Instances", "Restarts", "Leaked", "Requests/s", "Latency p50 / p99"].map((t) => h("th", { scope: "col" }, t))),
            ),
            h("tbody", {}, ...rows.map((r) => r.tr)),
          ),
    ),
  );
  const drawCpu = timeChart(cpuChart, [line("CPU", cpu.t, cpu.v, color("c-isolate"))], { unit: "cores", spark: true });
  const drawRss = timeChart(rssChart, [line("RSS", rss.t, rss.v, color("c-process"))], { unit: "MB", spark: true });
  const byRow = new Map(rows.map((r) => [r.tr as Element, r]));
  const onScreen = new IntersectionObserver(
    (entries) => {
      for (const e of entries) byRow.get(e.target)?.shown(e.isIntersecting);
    },
    { rootMargin: "300px 0px" },
  );
  for (const r of rows) onScreen.observe(r.tr);

  const close = openStream(undefined, {
    sample(state: LiveState) {
      if (state.functions.map((f) => f.name).join("\0") !== names) {
        // a deploy changed the set of functions: draw the page again
        window.dispatchEvent(new HashChangeEvent("hashchange"));
        return;
      }
      push(cpu, state.t, state.host.cpuCores ?? null);
      push(rss, state.t, state.host.rssBytes / 1048576);
      cpuNow.textContent = cores(state.host.cpuCores ?? null);
      rssNow.textContent = fmtBytes(state.host.rssBytes);
      drawCpu([line("CPU", cpu.t, cpu.v, color("c-isolate"))]);
      drawRss([line("RSS", rss.t, rss.v, color("c-process"))]);
      state.functions.forEach((f, i) => {
        rows[i]!.update(f);
      });
      rpsNow.textContent = fmtNumber(total());
      fnNow.textContent = summary(state.functions);
    },
  });
  return () => {
    onScreen.disconnect();
    close();
  };
};

function functionRow(f: FunctionRow) {
  const points: Points = {
    t: [...f.series.t],
    rps: f.series.points.map((p) => p.rps),
    p50: f.series.points.map((p) => p.p50),
    p99: f.series.points.map((p) => p.p99),
  };
  const rpsChart = h("div", { class: "spark", role: "img", "aria-label": `Requests per second of ${f.name}` });
  const latChart = h("div", { class: "spark", role: "img", "aria-label": `Latency p50 and p99 of ${f.name}` });
  const cells = {
    status: h("span", {}),
    version: h("td", { "data-label": "Version" }),
    instances: h("td", { "data-label": "Instances", class: "num" }),
    restarts: h("td", { "data-label": "Restarts", class: "num" }),
    leaked: h("td", { "data-label": "Leaked", class: "num" }),
    rps: h("span", { class: "figure" }),
    lat: h("span", { class: "figure" }),
  };
  const tr = h(
    "tr",
    {},
    h(
      "th",
      { scope: "row", "data-label": "Function" },
      h("a", { class: "fn-link", href: `#/fn/${encodeURIComponent(f.name)}` }, f.name),
      cells.status,
      h("span", { class: "route" }, f.route),
    ),
    h("td", { "data-label": "Lane" }, laneBadge(f.lane, f.runtime)),
    cells.version,
    cells.instances,
    cells.restarts,
    cells.leaked,
    h("td", { "data-label": "Requests/s", class: "chart-cell" }, cells.rps, rpsChart),
    h("td", { "data-label": "p50 / p99", class: "chart-cell" }, cells.lat, latChart),
  );
  let drawRps: ((l: Line[]) => void) | undefined;
  let drawLat: ((l: Line[]) => void) | undefined;
  let visible = false;
  /** New points came while the row was off screen. */
  let stale = false;
  const lines = () => ({
    rps: [line("req/s", points.t, points.rps, color("c-isolate"))],
    lat: [dots(line("p50", points.t, points.p50, color("c-p50"))), dots(line("p99", points.t, points.p99, color("c-p99")))],
  });
  const text = (r: Omit<FunctionRow, "series">) => {
    fill(cells.status, r.status === "broken" ? h("span", { class: "pill bad", title: r.error ?? "" }, "broken") : null);
    fill(cells.version, ...r.versions.map((v) => h("span", { class: "version" }, v.version, v.percent !== null && v.percent < 100 ? ` ${v.percent}%` : "")));
    fill(
      cells.instances,
      h("span", { title: "ready" }, String(r.instances.ready)),
      h("span", { class: "muted" }, " ready"),
      r.instances.busy ? h("span", { class: "muted" }, ` · ${r.instances.busy} busy`) : null,
      r.instances.starting ? h("span", { class: "muted" }, ` · ${r.instances.starting} starting`) : null,
    );
    cells.restarts.textContent = String(r.restarts);
    fill(cells.leaked, r.leaked > 0 ? h("span", { class: "pill warn", title: "instances stopped in a CPU loop whose thread kept running" }, String(r.leaked)) : "0");
    cells.rps.textContent = fmtNumber(points.rps[points.rps.length - 1] ?? null);
    const i = lastAnswered(points);
    cells.lat.textContent = i === undefined ? "idle" : `${fmtMs(points.p50[i])} / ${fmtMs(points.p99[i])}`;
  };
  text(f);
  return {
    tr,
    points,
    shown(on: boolean) {
      visible = on;
      if (!on) return;
      if (!drawRps || !drawLat) {
        drawRps = timeChart(rpsChart, lines().rps, { unit: "req/s", spark: true });
        drawLat = timeChart(latChart, lines().lat, { unit: "ms", spark: true });
      } else if (stale) {
        const l = lines();
        drawRps(l.rps);
        drawLat(l.lat);
      }
      stale = false;
    },
    update(r: LiveState["functions"][number]) {
      if (r.last && r.last.t !== points.t[points.t.length - 1]) {
        points.t.push(r.last.t);
        points.rps.push(r.last.point.rps);
        points.p50.push(r.last.point.p50);
        points.p99.push(r.last.point.p99);
        if (points.t.length > POINTS) for (const a of Object.values(points)) a.shift();
        if (visible && drawRps && drawLat) {
          const l = lines();
          drawRps(l.rps);
          drawLat(l.lat);
        } else stale = true;
      }
      text(r);
    },
  };
}

/** The newest point with answers in the last minute (latency of an idle interval is no figure). */
function lastAnswered(p: Points): number | undefined {
  for (let i = p.t.length - 1; i >= 0 && Date.now() - p.t[i]! < 60_000; i--) if (p.p50[i] !== null) return i;
  return undefined;
}

export function line(name: string, t: number[], v: (number | null)[], c: string): Line {
  return { name, color: c, data: t.map((x, i) => [x, v[i] ?? null]) };
}

export function dots(l: Line): Line {
  return { ...l, dots: true };
}

function push(s: { t: number[]; v: (number | null)[] }, t: number, v: number | null): void {
  if (s.t[s.t.length - 1] === t) return;
  s.t.push(t);
  s.v.push(v);
  if (s.t.length > POINTS) {
    s.t.shift();
    s.v.shift();
  }
}

function cores(n: number | null): string {
  return n === null ? "–" : `${n.toFixed(2)} cores`;
}

function summary(fns: { status: string }[]): string {
  const broken = fns.filter((f) => f.status === "broken").length;
  return broken ? `${fns.length} (${broken} broken)` : String(fns.length);
}
