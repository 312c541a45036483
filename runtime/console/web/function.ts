/**
 * One function: its figures over the last minutes, its requests and errors as they are answered
 * (request id, status, duration, the version that served it), its instances with their memory
 * and age, its limits, and what this host enforces for it in each lane (the capability table).
 */
import { get, type FunctionDetail, type LiveState, type RecentRequest } from "./api.ts";
import { color, timeChart } from "./charts.ts";
import { fill, fmtAge, fmtBytes, fmtMs, fmtNumber, fmtTime, h, laneBadge, statusClass, statusWord } from "./dom.ts";
import { openStream } from "./live.ts";
import type { Page } from "./main.ts";
import { dots, line } from "./overview.ts";

const POINTS = 150;
/** Rows kept in the live table. */
const ROWS = 100;
const PATH_CHARS = 200;

type Limits = Record<"heap" | "wallClock" | "cpuSpin" | "sandbox" | "fileSystem" | "network" | "signals", string>;
const LIMIT_ROWS: [keyof Limits, string][] = [
  ["heap", "Heap (memoryMb)"],
  ["wallClock", "Wall clock (timeoutMs → 504)"],
  ["cpuSpin", "A CPU loop is stopped"],
  ["sandbox", "Sandbox"],
  ["fileSystem", "File system"],
  ["network", "Network"],
  ["signals", "Signals"],
];

export const functionPage: Page = async (main, [name]) => {
  const d = await get<FunctionDetail>(`functions/${encodeURIComponent(name!)}`);
  const f = d.function;
  const s = {
    t: [...f.series.t],
    rps: f.series.points.map((p) => p.rps),
    err: f.series.points.map((p) => p.errorsPerSecond),
    p50: f.series.points.map((p) => p.p50),
    p99: f.series.points.map((p) => p.p99),
  };
  const rpsEl = h("div", { class: "chart", role: "img", "aria-label": `Requests per second of ${f.name} over the last minutes` });
  const latEl = h("div", { class: "chart", role: "img", "aria-label": `Latency p50 and p99 of ${f.name} over the last minutes` });
  const feed = h("tbody", {});
  const errors = h("tbody", {});
  const instances = h("tbody", {});
  const seen = h("span", { class: "muted" }, "");
  let count = 0;

  fill(
    main,
    h(
      "div",
      { class: "page-head" },
      h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/" }, "Overview"), " / "),
      h("h1", { tabindex: "-1" }, f.name, " ", laneBadge(f.lane, f.runtime), f.status === "broken" ? h("span", { class: "pill bad" }, "broken") : null),
      h(
        "p",
        { class: "muted" },
        h("code", {}, f.route),
        ` · ${d.settings.methods === "*" ? "every method" : (d.settings.methods as string[]).join(", ")} · version `,
        f.versions.map((v) => `${v.version}${v.percent !== null && v.percent < 100 ? ` (${v.percent}%)` : ""}`).join(", "),
        " · ",
        h("span", { id: "live", class: "live off" }, "Connecting…"),
      ),
      f.error ? h("p", { class: "error", role: "alert" }, f.error) : null,
    ),
    h(
      "section",
      { class: "grid two" },
      h("div", { class: "card" }, h("h2", { class: "card-title" }, "Requests/s"), rpsEl),
      h("div", { class: "card" }, h("h2", { class: "card-title" }, "Latency"), latEl),
    ),
    h(
      "section",
      { class: "card flush", "aria-labelledby": "feed-title" },
      h("div", { class: "card-head" }, h("h2", { id: "feed-title", class: "card-title" }, "Live requests"), seen),
      requestTable(feed, "No request lately: requests appear here as they are answered."),
    ),
    h(
      "section",
      { class: "card flush", "aria-labelledby": "errors-title" },
      h("h2", { id: "errors-title", class: "card-title" }, "Recent errors (5xx)"),
      requestTable(errors, "No answer of 500 or above lately."),
    ),
    h(
      "section",
      { class: "card flush", "aria-labelledby": "inst-title" },
      h("h2", { id: "inst-title", class: "card-title" }, "Instances"),
      h(
        "table",
        { class: "responsive" },
        h("thead", {}, h("tr", {}, ...["Instance", "Version", "State", "In flight", "Memory", "Age"].map((t) => h("th", { scope: "col" }, t)))),
        instances,
      ),
    ),
    h(
      "section",
      { class: "grid two" },
      h("div", { class: "card" }, h("h2", { class: "card-title" }, "Limits"), settingsList(d)),
      h("div", { class: "card" }, h("h2", { class: "card-title" }, "What this host enforces"), enforcementTable(d)),
    ),
  );

  const lines = () => ({
    rps: [line("requests/s", s.t, s.rps, color("c-isolate")), line("5xx/s", s.t, s.err, color("c-bad"))],
    lat: [dots(line("p50", s.t, s.p50, color("c-p50"))), dots(line("p99", s.t, s.p99, color("c-p99")))],
  });
  const drawRps = timeChart(rpsEl, lines().rps, { unit: "req/s" });
  const drawLat = timeChart(latEl, lines().lat, { unit: "ms" });
  const addRows = (body: HTMLElement, entries: RecentRequest[], fresh: boolean) => {
    for (const e of entries) {
      body.prepend(requestRow(e, fresh));
      if (body === feed) count++;
    }
    while (body.children.length > ROWS) body.lastElementChild!.remove();
    if (body === feed) seen.textContent = `${fmtNumber(count)} shown`;
  };
  addRows(feed, d.recent, false);
  addRows(errors, d.errors, false);
  drawInstances(instances, d.instances);

  return openStream(f.name, {
    requests: (entries) => addRows(feed, entries, true),
    errors: (entries) => addRows(errors, entries, true),
    sample(state: LiveState) {
      const me = state.functions.find((x) => x.name === f.name);
      if (me?.last && me.last.t !== s.t[s.t.length - 1]) {
        s.t.push(me.last.t);
        s.rps.push(me.last.point.rps);
        s.err.push(me.last.point.errorsPerSecond);
        s.p50.push(me.last.point.p50);
        s.p99.push(me.last.point.p99);
        if (s.t.length > POINTS) for (const a of Object.values(s)) a.shift();
        drawRps(lines().rps);
        drawLat(lines().lat);
      }
      if (state.instances) drawInstances(instances, state.instances);
    },
  });
};

function requestTable(body: HTMLElement, empty: string): HTMLElement {
  body.dataset.empty = empty;
  return h(
    "table",
    { class: "requests responsive" },
    h("thead", {}, h("tr", {}, ...["Time", "Request id", "Request", "Status", "Duration", "Version"].map((t) => h("th", { scope: "col" }, t)))),
    body,
  );
}

function requestRow(e: RecentRequest, fresh: boolean): HTMLElement {
  return h(
    "tr",
    { class: fresh ? "fresh" : "", "data-request-id": e.requestId },
    h("td", { "data-label": "Time", class: "num" }, fmtTime(e.at)),
    h("td", { "data-label": "Request id" }, h("code", { title: e.requestId }, e.requestId.slice(0, 8))),
    h("td", { "data-label": "Request", class: "path", title: e.path }, h("span", { class: "method" }, e.method), " ", shortPath(e.path)),
    h("td", { "data-label": "Status" }, h("span", { class: `pill ${statusClass(e.status)}`, title: statusWord(e.status) }, String(e.status))),
    h("td", { "data-label": "Duration", class: "num" }, fmtMs(e.ms)),
    h("td", { "data-label": "Version" }, h("span", { class: "version" }, e.version.slice(0, 12))),
  );
}

/**
 * A path cut to PATH_CHARS (the host keeps 1,000 characters of it: the cell's tooltip): any client may send one of
 * many kilobytes, and the table wrapped it in full, a screenful of characters for one request.
 */
function shortPath(path: string): string {
  return path.length > PATH_CHARS ? `${path.slice(0, PATH_CHARS)}…` : path;
}

function drawInstances(body: HTMLElement, list: FunctionDetail["instances"]): void {
  if (list.length === 0) {
    fill(body, h("tr", {}, h("td", { colspan: "6", class: "empty" }, "No instance runs now: the next request starts one.")));
    return;
  }
  fill(
    body,
    ...list.map((i) => {
      const share = i.memoryBytes === null ? 0 : Math.min(100, (100 * i.memoryBytes) / i.memoryLimitBytes);
      return h(
        "tr",
        {},
        h("td", { "data-label": "Instance" }, `#${i.id}`, i.pid ? h("span", { class: "muted" }, ` pid ${i.pid}`) : null),
        h("td", { "data-label": "Version" }, h("span", { class: "version" }, i.version)),
        h("td", { "data-label": "State" }, h("span", { class: `pill ${i.state === "ready" ? "ok" : "neutral"}` }, i.state)),
        h("td", { "data-label": "In flight", class: "num" }, String(i.inflight)),
        h(
          "td",
          { "data-label": "Memory" },
          h("span", { class: "num" }, fmtBytes(i.memoryBytes)),
          h("span", { class: "muted" }, ` of ${fmtBytes(i.memoryLimitBytes)} (${i.memoryOf})`),
          h("meter", { min: "0", max: "100", value: String(Math.round(share)), high: "80", optimum: "0", "aria-label": "share of its memory limit" }),
        ),
        h("td", { "data-label": "Age", class: "num" }, fmtAge(i.ageMs)),
      );
    }),
  );
}

function settingsList(d: FunctionDetail): HTMLElement {
  const st = d.settings;
  const rows: [string, string][] = [
    ["memoryMb", `${st.memoryMb} MB per instance`],
    ["timeoutMs", fmtMs(st.timeoutMs)],
    ["instances", `min ${st.instances.min}, max ${st.instances.max}, idle after ${fmtAge(st.instances.idleMs)}`],
    ["concurrency", `${st.concurrency} requests per instance`],
    ["queue", `${st.queue} waiting, then 503`],
    ["maxBodyBytes", fmtBytes(st.maxBodyBytes)],
    ["ctx.shared group", st.shared],
    ...("sandbox" in st && st.sandbox ? ([["sandbox", String(st.sandbox)]] as [string, string][]) : []),
  ];
  return h("dl", { class: "settings" }, ...rows.flatMap(([k, v]) => [h("dt", {}, h("code", {}, k)), h("dd", {}, v)]));
}

function enforcementTable(d: FunctionDetail): HTMLElement {
  const e = d.enforcement as unknown as { lane: string; isolate: Limits; process: Limits; sandbox: string };
  const head = (lane: "isolate" | "process") =>
    h("th", { scope: "col", class: e.lane === lane ? "current" : "" }, `${lane} lane`, e.lane === lane ? h("span", { class: "muted" }, " (this function)") : null);
  const cell = (lane: "isolate" | "process", key: keyof Limits) => {
    const v = e[lane][key];
    // a limit not enforced, or no sandbox at all, is what to look at; "none" elsewhere is a restriction
    const bad = v === "not enforced" || (key === "sandbox" && v.startsWith("none"));
    return h("td", { class: `${e.lane === lane ? "current" : ""} ${bad ? "warn-text" : ""}` }, key === "cpuSpin" ? (v === "enforced" ? "yes" : "no") : v);
  };
  return h(
    "div",
    {},
    h(
      "table",
      { class: "capabilities" },
      h("thead", {}, h("tr", {}, h("td", {}), head("isolate"), head("process"))),
      h("tbody", {}, ...LIMIT_ROWS.map(([key, label]) => h("tr", {}, h("th", { scope: "row" }, label), cell("isolate", key), cell("process", key)))),
    ),
    h("p", { class: "hint" }, `OS sandbox on this host: ${e.sandbox}. The process lane enforces every limit on every host runtime.`),
  );
}
