/**
 * `lanes load URL`: load-test any HTTP endpoint. The open model (`--rate`) holds a constant
 * arrival rate and measures latency from each request's intended start; the closed model
 * (`--connections`) is autocannon's. Both feed one recorder; the report has the percentiles from
 * an HDR histogram, statuses, errors by kind, bytes, whether the generator kept up, thresholds,
 * and is written as JSON and an SVG chart.
 *
 * It lives in loadtest/, outside the runtime-agnostic core, as the bench does: it drives
 * autocannon and node:http, which Node, Bun and Deno all provide.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { LanesError } from "../../runtime/errors.ts";
import { machine, packageVersion } from "../harness/machine.ts";
import { selfCpuMs } from "../harness/proc.ts";
import { runClosed } from "./closed-model.ts";
import { formatCompare } from "./compare.ts";
import { runOpen } from "./open-model.ts";
import type { LoadOptions } from "./options.ts";
import { probe } from "./probe.ts";
import { startProgress, type LiveCounts } from "./progress.ts";
import { Recorder } from "./recorder.ts";
import { shownUrl, type LoadReport } from "./report.ts";
import { figuresOf, summarize, type RunStats } from "./summarize.ts";
import { formatLoad } from "./table.ts";
import { checkThreshold, type ThresholdResult } from "./threshold.ts";

export { readBaseline } from "./compare.ts";
export { DEFAULTS } from "./options.ts";
export type { LoadOptions, Model, Target } from "./options.ts";
export type { LoadReport } from "./report.ts";
export { shownUrl } from "./report.ts";
export { parseThreshold, THRESHOLD_GRAMMAR } from "./threshold.ts";

export interface Host {
  runtime: string;
  version: string;
}

export interface LoadIO {
  /** Progress and warnings (stderr); none when not given. */
  write?: (s: string) => void;
  /** Redraw the progress line in place (default: when stderr is a terminal). */
  tty?: boolean;
}

export interface LoadOutcome {
  report: LoadReport;
  /** The terminal report (and the comparison, with --compare). */
  text: string;
  failedThresholds: ThresholdResult[];
  files: { json?: string; chart?: string };
}

/** The bytes of `--body-file`. */
export function readBodyFile(file: string): Uint8Array {
  return new Uint8Array(readFileSync(file));
}

export async function runLoad(o: LoadOptions, host: Host, io: LoadIO = {}): Promise<LoadOutcome> {
  const write = io.write ?? (() => {});
  const { target } = o;
  const first = await probe(target, o.timeoutS);
  if ("kind" in first) {
    throw new LanesError(
      "unavailable",
      `lanes load: ${target.method} ${shownUrl(target.url)} failed before the run (${first.kind}: ${first.message}); nothing was loaded. Is the server up and the URL right?`,
    );
  }
  if (first.status < 200 || first.status > 299) {
    write(`lanes load: warning: ${target.method} ${shownUrl(target.url)} answered ${first.status} before the run; loading it anyway\n`);
  }

  const startedAt = new Date().toISOString();
  // about 200 slices over the run for the chart, none shorter than 100 ms
  const rec = new Recorder(Math.max(100, (o.durationS * 1000) / 200));
  let live: LiveCounts | undefined;
  const stop = io.write ? startProgress(rec, () => live, o.durationS, write, io.tty ?? Boolean(process.stderr.isTTY)) : () => {};
  let run: RunStats;
  // the generator's own CPU while it ran (this process: autocannon or the open model's sender)
  const cpu0 = selfCpuMs();
  try {
    if (o.model === "open") {
      const stats = await runOpen(target, { rate: o.rate!, durationS: o.durationS, timeoutS: o.timeoutS, maxConnections: o.connections, ...stopOf(o) }, rec, (l) => (live = l));
      run = { model: "open", stats };
    } else {
      const stats = await runClosed(
        target,
        { connections: o.connections, durationS: o.durationS, timeoutS: o.timeoutS, ...stopOf(o) },
        rec,
        (sent) => (live = { sent, inFlight: () => null }),
      );
      run = { model: "closed", stats };
    }
  } finally {
    stop();
  }

  const body = summarize(rec, run, o, (selfCpuMs() - cpu0) / 1000);
  const report: LoadReport = {
    version: 1,
    meta: {
      startedAt,
      finishedAt: new Date().toISOString(),
      command: o.command,
      url: shownUrl(target.url),
      method: target.method,
      headerNames: Object.keys(target.headers),
      bodyBytes: target.body?.byteLength ?? 0,
      model: o.model,
      rate: o.rate,
      connections: o.connections,
      durationS: o.durationS,
      ...(o.stop?.aborted ? { interruptedAtS: Math.round(run.stats.elapsedS * 10) / 10 } : {}),
      timeoutS: o.timeoutS,
      generator:
        o.model === "open"
          ? `lanes open-model scheduler, node:http keep-alive, on ${host.runtime} ${host.version}`
          : `autocannon ${packageVersion("autocannon")}, on ${host.runtime} ${host.version}`,
      machine: machine(),
    },
    ...body,
    thresholds: o.thresholds.map((t) => checkThreshold(t, figuresOf(body))),
  };

  const files = await writeFiles(report, o);
  const compared = o.baseline ? formatCompare(o.baseline.file, o.baseline.report, report) : "";
  return {
    report,
    text: formatLoad(report, files) + (compared ? `\n${compared}` : ""),
    failedThresholds: report.thresholds.filter((t) => !t.ok),
    files,
  };
}

const stopOf = (o: LoadOptions) => (o.stop ? { stop: o.stop } : {});

async function writeFiles(report: LoadReport, o: LoadOptions): Promise<LoadOutcome["files"]> {
  const files: LoadOutcome["files"] = {};
  const json = `${JSON.stringify(report, null, 2)}\n`;
  if (o.outDir) {
    const dir = resolve(o.outDir);
    mkdirSync(dir, { recursive: true });
    files.json = join(dir, "load.json");
    files.chart = join(dir, "load.svg");
    writeFileSync(files.json, json);
    // ECharts only when a chart is drawn: loading it was most of the CPU a short run without
    // --out took (../../README.md, Load-test an endpoint)
    const { loadChartSvg } = await import("./chart.ts");
    writeFileSync(files.chart, loadChartSvg(report));
  }
  if (o.jsonFile) {
    files.json = resolve(o.jsonFile);
    mkdirSync(dirname(files.json), { recursive: true });
    writeFileSync(files.json, json);
  }
  return files;
}
