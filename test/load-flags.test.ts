/**
 * `lanes load` flags, threshold expressions and `--compare` verdicts, checked in-process (no
 * load is sent): a bad flag names the flag and the rule; a threshold holds or breaks as its
 * operator says; a comparison says which way each figure moved.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compareRuns, formatCompare } from "../loadtest/load/compare.ts";
import type { LoadReport } from "../loadtest/load/report.ts";
import { checkThreshold, parseThreshold, type Figures, type Threshold } from "../loadtest/load/threshold.ts";
import { main } from "../runtime/cli/main.ts";
import { adapter } from "./helpers/host.ts";

const URL_ = "http://127.0.0.1:9/";

/** A usage error: exit code 2, the message, then the usage. */
async function flagError(args: string[]): Promise<string> {
  let err = "";
  const code = await main({ ...adapter, writeOut: () => {}, writeErr: (t) => void (err += t) }, ["load", ...args]);
  if (code !== 2) throw new Error(`lanes load ${args.join(" ")} was accepted (exit ${code})`);
  assert.match(err, /\n\nusage: lanes load URL/);
  return err.slice(0, err.indexOf("\n\nusage:"));
}

test("flags that break a rule are refused before any request, naming the flag and the rule", async () => {
  assert.match(await flagError([]), /give one URL to load \(got none\), e\.g\. lanes load http/);
  assert.match(await flagError(["ftp://x/"]), /URL must be http:\/\/ or https:\/\/ \(got ftp:\)/);
  assert.match(await flagError(["localhost:8787"]), /URL must be (an absolute|http)/);
  assert.match(await flagError([URL_, "--rate", "100", "--connections", "5"]), /--rate \(open model\) and --connections \(closed model\) choose the model: give one/);
  assert.match(await flagError([URL_, "--max-connections", "5"]), /--max-connections bounds the open model's connections: it goes with --rate/);
  assert.match(await flagError([URL_, "--rate", "fast"]), /--rate must be a number of requests per second from 0\.1 to 100000 \(got "fast"\)/);
  assert.match(await flagError([URL_, "--rate", "0"]), /--rate must be a number of requests per second/);
  assert.match(await flagError([URL_, "--duration", "-1"]), /--duration must be a number of seconds from 0\.1 to 3600/);
  assert.match(await flagError([URL_, "--connections", "2.5"]), /--connections must be an integer from 1 to 10000/);
  assert.match(await flagError([URL_, "--timeout", "0.5"]), /--timeout must be a number of seconds from 1 to 3600/);
  assert.match(await flagError([URL_, "--header", "no colon"]), /--header must be "name: value" with a valid header name \(got "no colon"\)/);
  assert.match(await flagError([URL_, "--method", "GE T"]), /--method must be an HTTP method/);
  // it failed with a stack trace from the HTTP client
  assert.match(
    await flagError([URL_, "--header", "x-a: b\r\nevil: 1"]),
    /--header "x-a": its value may not hold a line break, another control character or a character past Latin-1/,
  );
  assert.match(await flagError([URL_, "--header", "x-a: 日本"]), /--header "x-a": its value may not hold/);
  assert.match(await flagError([URL_, "--body", "x", "--body-file", "y"]), /give --body or --body-file, not both/);
  assert.match(await flagError([URL_, "--body-file", "/no/such/file"]), /--body-file "\/no\/such\/file" is not a file/);
  assert.match(await flagError([URL_, "--compare", "/no/such.json"]), /--compare "\/no\/such\.json" is not a file/);
  assert.match(await flagError([URL_, "--compare", "package.json"]), /--compare "package\.json": it is not the JSON of a `lanes load --json` run/);
  // a file with the top-level keys but not the figures: refused before any load, not a crash after it
  const partial = join(mkdtempSync(join(tmpdir(), "lanes-compare-")), "partial.json");
  writeFileSync(partial, JSON.stringify({ version: 1, latencyMs: { p50: 1 }, rate: { achieved: 5 }, errors: { share: 0 }, meta: { startedAt: "x" } }));
  assert.match(
    await flagError([URL_, "--compare", partial]),
    /--compare ".*partial\.json": it has no latency p90 as a number: it is not the JSON of a whole `lanes load --json` run/,
  );
  assert.match(await flagError([URL_, "--treshold", "p99<1s"]), /unknown flag --treshold \(known: --rate, /);
});

test("an output path that cannot take the report is refused before the run, not after it with a stack trace", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lanes-load-out-"));
  const file = join(dir, "file");
  writeFileSync(file, "x");
  assert.match(await flagError([URL_, "--json", dir]), /--json ".*" is a folder: give the path of a file/);
  assert.match(await flagError([URL_, "--json", join(file, "run.json")]), /--json ".*file\/run\.json" cannot be written: its folder ".*file" cannot be made/);
  assert.match(await flagError([URL_, "--json="]), /--json "" needs a file path/);
  assert.match(await flagError([URL_, "--out", file]), /--out ".*file" is not a folder: give the folder to write load\.json and load\.svg into/);
  assert.match(await flagError([URL_, "--out", join(file, "sub")]), /--out ".*file\/sub" cannot be written/);
});

test("a threshold that does not parse names the expression, what is wrong and the grammar", async () => {
  for (const [expr, why] of [
    ["p99<fast", /it is not METRIC OP VALUE/],
    ["p99<50", /a latency limit needs a unit, ms or s \(got "50"\)/],
    ["p99=50ms", /it is not METRIC OP VALUE/],
    ["p95<50ms", /unknown figure "p95"/],
    ["errors<1.5", /errors takes a percentage \(1%\) or a whole number of requests/],
    ["errors<150%", /at most 100%/],
    ["rate>=900ms", /rate is in requests per second/],
  ] as const) {
    const message = await flagError([URL_, "--rate", "10", "--threshold", expr]);
    assert.match(message, new RegExp(`--threshold "${expr.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}": `));
    assert.match(message, why);
    assert.match(message, /A threshold is METRIC OP VALUE, where OP is < <= > >= and METRIC is p50, p90, p99, p99\.9, max or mean/);
  }
});

const figures: Figures = {
  latencyMs: { p50: 4, p90: 9, p99: 40, "p99.9": 120, max: 300, mean: 6 },
  requests: 1000,
  answered: 995,
  errors: 5,
  non2xx: 20,
  rate: 950,
};
const check = (expr: string) => {
  const t = parseThreshold(expr) as Threshold;
  assert.ok(!("error" in t), expr);
  return checkThreshold(t, figures);
};

test("thresholds hold or break by their operator, in ms or s, as a share or a count of requests, and on the rate", () => {
  const cases: [string, boolean, string][] = [
    ["p99<50ms", true, "p99 = 40.0 ms"],
    ["p99<40ms", false, "p99 = 40.0 ms"],
    ["p99<=40ms", true, "p99 = 40.0 ms"],
    ["p99.9 < 0.1s", false, "p99.9 = 120.0 ms"],
    ["max<=0.3s", true, "max = 300.0 ms"],
    ["p50>5ms", false, "p50 = 4.0 ms"],
    ["mean>=6ms", true, "mean = 6.0 ms"],
    ["p90<10ms", true, "p90 = 9.0 ms"],
    ["errors<1%", true, "errors = 0.50% (5 of 1000)"],
    ["errors<0.5%", false, "errors = 0.50% (5 of 1000)"],
    ["errors<=5", true, "errors = 5"],
    ["errors<5", false, "errors = 5"],
    ["non2xx<1%", false, "non2xx = 2.00% (20 of 1000)"],
    ["rate>=900", true, "rate = 950.0 req/s"],
    ["rate>1000/s", false, "rate = 950.0 req/s"],
  ];
  for (const [expr, ok, text] of cases) {
    const r = check(expr);
    assert.is(r.ok, ok, `${expr}: ${r.text}`);
    assert.is(r.text, text);
  }
});

test("a latency threshold breaks when no request was answered, rather than holding on latencies of 0 ms", () => {
  // a server that stopped answering mid-run had every request time out: p99<50ms passed, exit 0
  const none = { ...figures, latencyMs: { p50: 0, p90: 0, p99: 0, "p99.9": 0, max: 0, mean: 0 }, requests: 20, answered: 0, errors: 20 };
  for (const expr of ["p99<50ms", "max<=1s", "mean>=0ms"]) {
    const r = checkThreshold(parseThreshold(expr) as Threshold, none);
    assert.is(r.ok, false, `${expr}: ${r.text}`);
    assert.match(r.text, /: no request was answered \(20 failed\)$/);
  }
  assert.is(checkThreshold(parseThreshold("errors<=20") as Threshold, none).ok, true);
});

function report(o: { rate: number; p99: number; errors: number; model?: "open" | "closed" }): LoadReport {
  const l = { p50: 4, p90: 9, p99: o.p99, p99_9: o.p99 * 2, max: o.p99 * 3, mean: 6, min: 1 };
  return {
    version: 1,
    meta: {
      startedAt: "2026-12-01T00:00:00.000Z",
      url: "http://x/",
      method: "GET",
      model: o.model ?? "open",
      rate: 100,
      connections: 512,
      durationS: 10,
      timeoutS: 10,
      bodyBytes: 0,
    } as LoadReport["meta"],
    requests: { sent: 1000, answered: 1000 - o.errors, failed: o.errors, notStarted: 0 },
    rate: { asked: 100, achieved: o.rate },
    latencyMs: l,
    errors: { timeout: o.errors, reset: 0, refused: 0, other: 0, total: o.errors, share: o.errors / 1000, samples: {} },
    non2xx: 0,
  } as LoadReport;
}

test("--compare says for each figure which way it moved: lower latency and errors are better, a higher rate is better", () => {
  const before = report({ rate: 100, p99: 40, errors: 0 });
  const now = report({ rate: 99.8, p99: 20, errors: 10 });
  const byFigure = Object.fromEntries(compareRuns(before, now).map((c) => [c.figure, c]));
  assert.is(byFigure["latency p99"]!.verdict, "better");
  assert.is(byFigure["latency p99"]!.change, -0.5);
  assert.is(byFigure["latency max"]!.verdict, "better");
  assert.is(byFigure["latency p50"]!.verdict, "same");
  assert.is(byFigure.rate!.verdict, "same", "a 0.2% change is within noise");
  assert.is(byFigure.errors!.verdict, "worse");
  const worse = Object.fromEntries(compareRuns(now, before).map((c) => [c.figure, c.verdict]));
  assert.is(worse["latency p99"], "worse");
  assert.is(worse.errors, "better");

  const text = formatCompare("before.json", before, report({ rate: 80, p99: 60, errors: 0, model: "closed" }));
  assert.match(text, /compared with before\.json \(2026-12-01T00:00:00\.000Z\):/);
  assert.match(text, /rate +100\.0 req\/s +80\.0 req\/s +-20\.0% +worse/);
  assert.match(text, /latency p99 +40\.0 ms +60\.0 ms +\+50\.0% +worse/);
  assert.match(text, /errors +0\.00% +0\.00% +\+0\.00 pt +same/);
  assert.match(text, /note: the runs differ \(model "open" then, "closed" now\)/);

  // a baseline stopped with Ctrl-C measured a part of its run: not like for like either
  const cut = report({ rate: 100, p99: 40, errors: 0 });
  cut.meta.interruptedAtS = 2.5;
  assert.match(formatCompare("cut.json", cut, now), /note: the runs differ \(interrupted after 2\.5 of 10 s then\)/);
});

test.run();
