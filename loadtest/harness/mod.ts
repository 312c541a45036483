/**
 * `lanes bench`: the harness. For each function x lane (isolate, process, and the `direct`
 * baseline) x host runtime it runs one cell (cells.ts) in a fresh host process, then probes what
 * a crash does to each lane, and writes bench.json, bench.svg and a table.
 *
 * It lives in loadtest/, outside the runtime-agnostic core: driving autocannon, spawning hosts on
 * three runtimes and reading /proc are Node APIs that Node, Bun and Deno all provide, and none of
 * it belongs in the host's adapter interface.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { LanesError } from "../../runtime/errors.ts";
import { loadManifest } from "../../runtime/manifest/load.ts";
import { adviseAll } from "./advice.ts";
import { runCell, emptyResult, type CellContext } from "./cells.ts";
import { chartSvg } from "./chart.ts";
import { runCrashProbes } from "./crash.ts";
import { runSandboxCost } from "./sandbox-cost.ts";
import { generatorCommand, killAllHosts } from "./host-process.ts";
import { machine, packageVersion } from "./machine.ts";
import type { BenchOptions } from "./options.ts";
import { progress } from "./progress.ts";
import type { BenchLane, BenchReport, BenchResult, BenchRuntime, CrashResult, RoundFigures, SandboxCost } from "./report.ts";
import { combineRounds, roundFigures } from "./rounds.ts";
import { generatorNote, laneTable, NOISY, throughputTable } from "./table.ts";
import { workloadFor } from "./workloads.ts";
import { Workspace } from "./workspace.ts";

export type { BenchOptions } from "./options.ts";
export { ALL_LANES, ALL_RUNTIMES, FULL, QUICK } from "./options.ts";
export type { BenchReport } from "./report.ts";

export interface BenchOutcome {
  report: BenchReport;
  jsonFile: string;
  chartFile: string;
}

export async function runBench(adapter: RuntimeAdapter, opts: BenchOptions): Promise<BenchOutcome> {
  const startedAt = new Date().toISOString();
  const manifest = await loadManifest(opts.dir, adapter.sys, adapter.name);
  const unknown = opts.functions.filter((f) => !manifest.functions.some((s) => s.name === f));
  if (unknown.length > 0) {
    throw new LanesError(
      "invalid_flag",
      `lanes bench: --function: no function ${unknown.map((u) => `"${u}"`).join(", ")} in ${manifest.file} (has: ${manifest.functions.map((f) => f.name).join(", ")})`,
    );
  }
  const specs = manifest.functions.filter((f) => opts.functions.length === 0 || opts.functions.includes(f.name));
  const workloads = await Promise.all(specs.map((s) => workloadFor(s, adapter)));
  const out = resolve(opts.out);
  // made before any cell runs: an --out that cannot be a folder threw the whole run's results away at its end
  try {
    mkdirSync(out, { recursive: true });
  } catch (e) {
    throw new LanesError("invalid_flag", `lanes bench: --out ${JSON.stringify(opts.out)} cannot be the results folder (${e instanceof Error ? e.message : String(e)})`);
  }
  const ws = Workspace.create(manifest.dir, out);
  const cleanup = () => {
    killAllHosts();
    ws.remove();
  };
  const onSignal = () => {
    cleanup();
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const crashLanes = opts.crash ? opts.lanes.filter((l): l is "isolate" | "process" => l !== "direct") : [];
  const sandboxProbe = opts.lanes.includes("process");
  const total = opts.runtimes.length * (workloads.length * opts.lanes.length * opts.rounds + crashLanes.length + (sandboxProbe ? 1 : 0));
  const bar = progress(total, (s) => void process.stderr.write(s), Boolean(process.stderr.isTTY));
  const versions: Partial<Record<BenchRuntime, string>> = {};
  const ctx: CellContext = {
    opts,
    ws,
    binary: (rt) => adapter.runtimeBinary(rt),
    generator: generatorCommand(adapter.name, adapter.runtimeBinary(adapter.name)),
    sawVersion: (rt, v) => void (versions[rt] = v),
    onPhase: (p) => bar.phase(p),
  };
  const results: BenchResult[] = [];
  const crashes: CrashResult[] = [];
  const sandboxCosts: SandboxCost[] = [];
  try {
    for (const runtime of opts.runtimes) {
      for (const w of workloads) {
        // direct first in each round, so each lane is read against a direct measured just before it
        const lanes = [...opts.lanes].sort((a, b) => (a === "direct" ? -1 : b === "direct" ? 1 : 0));
        const measured = new Map<BenchLane, { result: BenchResult; figures: RoundFigures }[]>(lanes.map((l) => [l, []]));
        for (let round = 1; round <= opts.rounds; round++) {
          let direct: BenchResult | undefined;
          for (const lane of lanes) {
            bar.cell(`${w.name} · ${lane} · ${runtime}${opts.rounds > 1 ? ` · round ${round}/${opts.rounds}` : ""}`);
            let r: BenchResult;
            try {
              r = await runCell(ctx, w, lane, runtime);
            } catch (e) {
              r = { ...emptyResult(w, lane, runtime), checkError: (e as Error).message };
            }
            if (lane === "direct") direct = r;
            const figures = roundFigures(r, direct);
            measured.get(lane)!.push({ result: r, figures });
            bar.done(
              r.checkError
                ? `FAILED: ${r.checkError.split("\n")[0]}`
                : `${Math.round(r.rps)} req/s${figures.xDirect !== undefined ? `, ${figures.xDirect.toFixed(2)}x direct` : ""}`,
            );
          }
        }
        for (const lane of lanes) results.push(combineRounds(measured.get(lane)!));
      }
      if (sandboxProbe) {
        bar.cell(`sandbox cost · process · ${runtime}`);
        try {
          const cost = await runSandboxCost(ctx, runtime);
          sandboxCosts.push(cost);
          bar.done(`cold start ${Math.round(cost.medianSandboxedMs)} ms sandboxed, ${Math.round(cost.medianUnsandboxedMs)} ms not`);
        } catch (e) {
          const error = (e as Error).message.split("\n")[0]!;
          sandboxCosts.push({ runtime, sandboxedMs: [], unsandboxedMs: [], medianSandboxedMs: NaN, medianUnsandboxedMs: NaN, error });
          bar.done(`FAILED: ${error}`);
        }
      }
      for (const lane of crashLanes) {
        bar.cell(`crash probe · ${lane} · ${runtime}`);
        try {
          crashes.push(...(await runCrashProbes(ctx, lane, runtime)));
          bar.done("done");
        } catch (e) {
          bar.done(`FAILED: ${(e as Error).message.split("\n")[0]}`);
        }
      }
    }
  } finally {
    bar.finish();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    cleanup();
  }

  const report: BenchReport = {
    meta: {
      startedAt,
      finishedAt: new Date().toISOString(),
      dir: relative(process.cwd(), manifest.dir) || ".",
      command: opts.command,
      ...machine(),
      loadGenerator: `autocannon ${packageVersion("autocannon")} (as a library, in a process of its own per run on ${adapter.name} ${adapter.version}: harness/generator-main.ts; answer bodies counted, not kept: harness/generator.ts)`,
      versions: { ...versions, lanes: packageVersion("lanes"), autocannon: packageVersion("autocannon") },
      durationS: opts.durationS,
      warmupS: opts.warmupS,
      connections: opts.connections,
      settleS: opts.settleS,
      rounds: opts.rounds,
      quick: opts.quick,
    },
    results,
    crashes,
    sandboxCosts,
    advice: adviseAll(results, crashes, adapter.name),
  };
  mkdirSync(out, { recursive: true });
  const jsonFile = join(out, "bench.json");
  const chartFile = join(out, "bench.svg");
  writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(chartFile, chartSvg(report));
  return { report, jsonFile, chartFile };
}

/** The terminal report: both tables, the advice, where the files are. */
export function formatReport({ report, jsonFile, chartFile }: BenchOutcome): string {
  const m = report.meta;
  const versions = (Object.entries(m.versions) as [string, string][]).map(([k, v]) => `${k} ${v}`).join(", ");
  const failed = report.results.filter((r) => r.checkError);
  const noisy = report.results.filter((r) => !r.checkError && r.foreignCpu >= NOISY);
  return [
    `lanes bench: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB · ${versions}`,
    `${m.connections} connections, ${m.warmupS} s warm-up + ${m.durationS} s per cell${m.rounds > 1 ? `, ${m.rounds} rounds in turn (medians; overhead against each round's direct)` : ""}, ${m.loadGenerator}`,
    "",
    throughputTable(report.results),
    ...(noisy.length
      ? [`! ${noisy.length} cell(s) ran while other processes used ${NOISY}+ cores ("others' CPU"): their figures are not comparable; run again on a quiet machine.`]
      : []),
    ...generatorNote(report.results),
    "",
    laneTable(report),
    "",
    "which lane suits each function:",
    ...report.advice.map((a) => `  ${a.function}: ${a.lane} lane. ${a.why}`),
    ...(failed.length ? ["", "failed cells:", ...failed.map((r) => `  ${r.workload} ${r.lane} ${r.runtime}: ${r.checkError}`)] : []),
    "",
    `results: ${jsonFile}`,
    `chart:   ${chartFile}`,
    "",
  ].join("\n");
}
