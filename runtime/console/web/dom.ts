/**
 * Building the page: elements made with the DOM API and text set as text, never parsed from
 * HTML, so nothing a host reports (a path, a message, a bench file) can become markup.
 */
export type Child = Node | string | number | null | undefined | false | Child[];
export type Attrs = Record<string, string | number | boolean | null | undefined | ((e: Event) => void)>;

/** `h("a", { href: "#/" }, "Overview")`: `on*` attributes are listeners, `class` the class list. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, k === "title" || k.startsWith("aria-") ? visibleBidi(String(v)) : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === "object" ? c : document.createTextNode(visibleBidi(String(c))));
  }
}

// The embeddings, overrides and isolates of Unicode's bidirectional algorithm ("Trojan Source",
// https://trojansource.codes/): a deploy message or a request path holding U+202E showed the rest
// of its cell reversed. Each is shown as its code point; the marks (U+200E, U+200F) stay, as a
// right-to-left message may need them and they reorder nothing past themselves.
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;

/** `text` with each bidi embedding, override or isolate shown as [U+XXXX] instead of obeyed. */
export function visibleBidi(text: string): string {
  return text.replace(BIDI_CONTROLS, (c) => `[U+${c.charCodeAt(0).toString(16).toUpperCase()}]`);
}

/** Replace everything in `el`. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

const number = new Intl.NumberFormat("en", { maximumFractionDigits: 1 });

export function fmtNumber(n: number | null | undefined): string {
  return n === null || n === undefined ? "–" : number.format(n);
}

/** 0.42 ms, 12 ms, 1.2 s. */
export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "–";
  if (ms < 10) return `${ms.toFixed(ms < 1 ? 2 : 1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

export function fmtBytes(b: number | null | undefined): string {
  if (b === null || b === undefined) return "–";
  if (b < 1024) return `${b} B`;
  const units = ["KB", "MB", "GB"];
  let v = b / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** 45 s, 12 min, 3 h, 2 d. */
export function fmtAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

export function fmtTime(at: number | string): string {
  return new Date(at).toLocaleTimeString("en-GB", { hour12: false });
}

export function fmtDateTime(at: string): string {
  const d = new Date(at);
  return `${d.toLocaleDateString("en-CA")} ${d.toLocaleTimeString("en-GB", { hour12: false })}`;
}

/** The lanes error code a status stands for, for people reading a feed. */
export function statusWord(status: number): string {
  const words: Record<number, string> = {
    404: "not found",
    405: "method not allowed",
    408: "body too slow",
    413: "too large",
    499: "client gone",
    500: "function error",
    502: "instance crashed",
    503: "overloaded or unavailable",
    504: "timeout",
  };
  return words[status] ?? "";
}

export function statusClass(status: number): string {
  return status >= 500 ? "bad" : status >= 400 ? "warn" : "ok";
}

/** A short message in the corner, read out by screen readers. */
export function toast(text: string, kind: "ok" | "bad" = "ok"): void {
  const el = document.getElementById("toast");
  if (!el) return;
  el.className = `toast show ${kind}`;
  el.textContent = visibleBidi(text);
  clearTimeout((el as HTMLElement & { timer?: number }).timer);
  (el as HTMLElement & { timer?: number }).timer = window.setTimeout(() => (el.className = "toast"), 6000);
}

export function laneBadge(lane: string, runtime: string): HTMLElement {
  return h("span", { class: `badge lane-${lane}` }, lane === "process" ? `process · ${runtime}` : "isolate");
}
