/**
 * `--threshold EXPR`: a figure, an operator and a limit, such as `p99<50ms`, `errors<1%` or
 * `rate>=900`. A run with a broken threshold exits 1, so `lanes load` can gate a CI job.
 */
export const LATENCY_METRICS = ["p50", "p90", "p99", "p99.9", "max", "mean"] as const;
export type LatencyMetric = (typeof LATENCY_METRICS)[number];
export type Metric = LatencyMetric | "errors" | "non2xx" | "rate";
export type Op = "<" | "<=" | ">" | ">=";
/** `share`: a fraction of the requests; `count`: a number of requests. */
export type Unit = "ms" | "share" | "count" | "req/s";

export interface Threshold {
  expr: string;
  metric: Metric;
  op: Op;
  /** In the unit: ms, a fraction (0.01 for 1%), a count, requests per second. */
  limit: number;
  unit: Unit;
}

export const THRESHOLD_GRAMMAR =
  "METRIC OP VALUE, where OP is < <= > >= and METRIC is p50, p90, p99, p99.9, max or mean (VALUE in ms or s: p99<50ms, max<=2s), " +
  "errors or non2xx (VALUE a % of the requests or a count: errors<1%, non2xx<=10), or rate (VALUE in requests/s: rate>=900)";

const SHAPE = /^\s*([a-z0-9.]+)\s*(<=|>=|<|>)\s*([0-9]*\.?[0-9]+)\s*([a-z%/]*)\s*$/i;

/** The threshold, or why the expression is not one. */
export function parseThreshold(expr: string): Threshold | { error: string } {
  const m = SHAPE.exec(expr);
  if (!m) return { error: "it is not METRIC OP VALUE" };
  const [, rawMetric, op, num, rawUnit] = m as unknown as [string, string, Op, string, string];
  const metric = rawMetric.toLowerCase();
  const unit = rawUnit.toLowerCase();
  const value = Number(num);
  if ((LATENCY_METRICS as readonly string[]).includes(metric)) {
    if (unit === "ms") return { expr, metric: metric as LatencyMetric, op, limit: value, unit: "ms" };
    if (unit === "s") return { expr, metric: metric as LatencyMetric, op, limit: value * 1000, unit: "ms" };
    return { error: `a latency limit needs a unit, ms or s (got "${num}${rawUnit}")` };
  }
  if (metric === "errors" || metric === "non2xx") {
    if (unit === "%") {
      if (value > 100) return { error: `a share of requests is at most 100% (got ${num}%)` };
      return { expr, metric, op, limit: value / 100, unit: "share" };
    }
    if (unit === "" && Number.isInteger(value)) return { expr, metric, op, limit: value, unit: "count" };
    return { error: `${metric} takes a percentage (1%) or a whole number of requests (got "${num}${rawUnit}")` };
  }
  if (metric === "rate") {
    if (unit === "" || unit === "/s") return { expr, metric, op, limit: value, unit: "req/s" };
    return { error: `rate is in requests per second, without a unit or with /s (got "${num}${rawUnit}")` };
  }
  return { error: `unknown figure "${rawMetric}"` };
}

/** The figures a threshold is checked against. */
export interface Figures {
  latencyMs: Record<LatencyMetric, number>;
  /** Requests that got an answer or an error. */
  requests: number;
  /** Requests that got an answer: the latencies are theirs. */
  answered: number;
  errors: number;
  non2xx: number;
  rate: number;
}

export interface ThresholdResult {
  expr: string;
  ok: boolean;
  /** The measured value, in the threshold's unit. */
  actual: number;
  /** The measured value as a reader would write it: "p99 = 41.2 ms". */
  text: string;
}

export function checkThreshold(t: Threshold, f: Figures): ThresholdResult {
  let actual: number;
  let text: string;
  if (t.metric === "errors" || t.metric === "non2xx") {
    const count = f[t.metric];
    actual = t.unit === "share" ? (f.requests === 0 ? 0 : count / f.requests) : count;
    text = `${t.metric} = ${t.unit === "share" ? `${(actual * 100).toFixed(2)}% (${count} of ${f.requests})` : count}`;
  } else if (t.metric === "rate") {
    actual = f.rate;
    text = `rate = ${actual.toFixed(1)} req/s`;
  } else if (f.answered === 0) {
    // the latencies of no answer read 0 ms: a latency limit held while the server answered nothing
    return { expr: t.expr, ok: false, actual: 0, text: `${t.metric}: no request was answered (${f.requests} failed)` };
  } else {
    actual = f.latencyMs[t.metric];
    text = `${t.metric} = ${actual.toFixed(1)} ms`;
  }
  return { expr: t.expr, ok: compare(actual, t.op, t.limit), actual, text };
}

function compare(a: number, op: Op, b: number): boolean {
  switch (op) {
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
  }
}
