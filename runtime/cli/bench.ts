/**
 * `lanes bench [dir]`: load-test each function in each lane (and the `direct` baseline) on each
 * host runtime. This file only reads the flags; the harness is in loadtest/harness/, outside the
 * runtime-agnostic core, because it drives autocannon and spawns and measures processes.
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { LanesError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { intFlag, parseArgs, stringFlag, type Parsed } from "./args.ts";

const FLAGS = {
  function: "string",
  lanes: "string",
  runtimes: "string",
  duration: "string",
  warmup: "string",
  connections: "string",
  settle: "string",
  rounds: "string",
  out: "string",
  quick: "boolean",
  crash: "boolean",
  "no-metrics": "boolean",
  density: "string",
  mixed: "boolean",
  pack: "boolean",
  process: "string",
  "idle-ms": "string",
  cli: "string",
} as const;
export { FLAGS as BENCH_FLAGS };
const DENSITY_ONLY = ["mixed", "pack", "process", "idle-ms", "cli"] as const;
const LANE_BENCH_ONLY = ["function", "lanes", "duration", "warmup", "connections", "settle", "rounds", "out", "quick", "crash"] as const;

/** The reference workloads: loadtest/ with its own lanes.json. */
export function defaultBenchDir(): string {
  return decodeURIComponent(new URL("../../loadtest/", import.meta.url).pathname);
}

export async function benchCommand(adapter: RuntimeAdapter, argv: string[], log: Logger): Promise<number> {
  const args = parseArgs(argv, FLAGS, "bench", 1);
  const given = (names: readonly string[]) => names.filter((n) => args.flags[n] !== undefined);
  const density = args.flags.density !== undefined;
  // a flag of the other bench was ignored: `lanes bench --mixed` ran the whole lane bench
  const stray = density ? given(LANE_BENCH_ONLY) : given(DENSITY_ONLY);
  if (stray.length > 0) {
    throw new LanesError("invalid_flag", `lanes bench: --${stray[0]} ${density ? "is for the lane bench, not --density N" : "goes with --density N"}`);
  }
  if (args.flags.cli !== undefined && args.flags.mixed === undefined) throw new LanesError("invalid_flag", "lanes bench: --cli goes with --density N --mixed");
  if (density) return densityCommand(adapter, args, log);
  const harness = await import("../../loadtest/harness/mod.ts");
  const quick = args.flags.quick === true;
  const base = quick ? harness.QUICK : harness.FULL;
  const dir = args.positionals[0] ?? defaultBenchDir();
  const lanes = listFlag(args, "lanes", harness.ALL_LANES);
  const opts = {
    dir,
    functions: [...new Set(stringFlag(args, "function", "").split(",").filter(Boolean))],
    // the direct baseline always runs: every lane's figure is read against it
    lanes: [...new Set(["direct" as const, ...lanes])],
    runtimes: listFlag(args, "runtimes", harness.ALL_RUNTIMES),
    durationS: secondsFlag(args, "duration", base.durationS),
    warmupS: secondsFlag(args, "warmup", base.warmupS),
    connections: intFlag(args, "connections", base.connections, "bench", 1, 10_000),
    settleS: args.flags.settle === undefined ? 0 : secondsFlag(args, "settle", 0),
    rounds: intFlag(args, "rounds", 1, "bench", 1, 20),
    out: stringFlag(args, "out", `${dir.replace(/\/$/, "")}/bench-results`),
    quick,
    crash: args.flags.crash !== false,
    noMetrics: args.flags["no-metrics"] === true,
    command: `lanes bench ${argv.join(" ")}`.trim(),
  };
  log.info(
    `lanes bench: ${opts.functions.length ? opts.functions.join(", ") : "every function"} in ${dir}; lanes ${opts.lanes.join(", ")}; runtimes ${opts.runtimes.join(", ")}; ${opts.durationS} s per cell${opts.rounds > 1 ? `, ${opts.rounds} rounds` : ""}${opts.noMetrics ? "; hosts with --no-metrics" : ""}`,
  );
  const outcome = await harness.runBench(adapter, opts);
  adapter.writeOut(harness.formatReport(outcome));
  return outcome.report.results.some((r) => r.checkError) ? 1 : 0;
}

/**
 * `lanes bench --density N`: N packed hello functions per host runtime, then P process-lane
 * ones with warm spares; `--mixed`: N functions half in each lane on one host (../../loadtest/README.md).
 */
async function densityCommand(adapter: RuntimeAdapter, args: Parsed, log: Logger): Promise<number> {
  const { runDensity, densityTable } = await import("../../loadtest/harness/density.ts");
  const { runMixed, mixedTable } = await import("../../loadtest/harness/density-mixed.ts");
  const count = intFlag(args, "density", 200, "bench", 2, 100_000);
  const runtimes = listFlag(args, "runtimes", ["node", "bun", "deno"] as const);
  const cli = args.flags.cli === undefined ? undefined : stringFlag(args, "cli", "");
  // another checkout has no "pack": it is measured as it was
  const pack = args.flags.pack !== false && !cli;
  const scratch = `${adapter.cwd()}/.lanes/density`;
  const onPhase = (p: string) => log.info(p);
  log.info(`lanes bench --density ${count}${args.flags.mixed ? " --mixed" : ""}: runtimes ${runtimes.join(", ")}${pack ? ", packed" : ", unpacked"}`);
  if (args.flags.mixed === true) {
    adapter.writeOut(`${mixedTable(await runMixed({ count, runtimes, pack, scratch, binary: (r) => adapter.runtimeBinary(r), ...(cli ? { cli } : {}), onPhase }))}\n`);
    return 0;
  }
  const r = await runDensity({
    count,
    processCount: intFlag(args, "process", 20, "bench", 0, 1000),
    runtimes,
    lanes: ["isolate", "process"],
    pack,
    // longer than the N first requests take, so all N are loaded when the memory is read
    idleMs: intFlag(args, "idle-ms", 20_000 + 20 * count, "bench", 1000, 3_600_000),
    noMetrics: args.flags["no-metrics"] === true,
    scratch,
    binary: (rt) => adapter.runtimeBinary(rt),
    onPhase,
  });
  adapter.writeOut(`${densityTable(r)}\n`);
  return r.isolate.some((x) => x.error || x.non200 > 0) || r.process.some((x) => x.error || x.non200 > 0) ? 1 : 0;
}

function listFlag<T extends string>(args: Parsed, name: string, allowed: readonly T[]): T[] {
  const v = args.flags[name];
  if (typeof v !== "string") return [...allowed];
  const items = v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = items.filter((i) => !allowed.includes(i as T));
  if (items.length === 0 || bad.length > 0) {
    throw new LanesError("invalid_flag", `lanes bench: --${name} takes a list from ${allowed.join(",")} (got ${JSON.stringify(v)})`);
  }
  // `--runtimes node,node` would measure the same cells twice and print duplicate rows
  return [...new Set(items)] as T[];
}

function secondsFlag(args: Parsed, name: string, def: number): number {
  const v = args.flags[name];
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== "string" || !Number.isFinite(n) || n < 0.1 || n > 3600) {
    throw new LanesError("invalid_flag", `lanes bench: --${name} must be a number of seconds from 0.1 to 3600 (got ${JSON.stringify(v)})`);
  }
  return n;
}
