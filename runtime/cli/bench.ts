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
  out: "string",
  quick: "boolean",
  crash: "boolean",
  "no-metrics": "boolean",
} as const;
export { FLAGS as BENCH_FLAGS };

/** The reference workloads: loadtest/ with its own lanes.json. */
export function defaultBenchDir(): string {
  return decodeURIComponent(new URL("../../loadtest/", import.meta.url).pathname);
}

export async function benchCommand(adapter: RuntimeAdapter, argv: string[], log: Logger): Promise<number> {
  const harness = await import("../../loadtest/harness/mod.ts");
  const args = parseArgs(argv, FLAGS, "bench", 1);
  const quick = args.flags.quick === true;
  const base = quick ? harness.QUICK : harness.FULL;
  const dir = args.positionals[0] ?? defaultBenchDir();
  const lanes = listFlag(args, "lanes", harness.ALL_LANES);
  const opts = {
    dir,
    functions: stringFlag(args, "function", "").split(",").filter(Boolean),
    // the direct baseline always runs: every lane's figure is read against it
    lanes: [...new Set(["direct" as const, ...lanes])],
    runtimes: listFlag(args, "runtimes", harness.ALL_RUNTIMES),
    durationS: secondsFlag(args, "duration", base.durationS),
    warmupS: secondsFlag(args, "warmup", base.warmupS),
    connections: intFlag(args, "connections", base.connections, "bench", 1, 10_000),
    settleS: args.flags.settle === undefined ? 0 : secondsFlag(args, "settle", 0),
    out: stringFlag(args, "out", `${dir.replace(/\/$/, "")}/bench-results`),
    quick,
    crash: args.flags.crash !== false,
    noMetrics: args.flags["no-metrics"] === true,
    command: `lanes bench ${argv.join(" ")}`.trim(),
  };
  log.info(
    `lanes bench: ${opts.functions.length ? opts.functions.join(", ") : "every function"} in ${dir}; lanes ${opts.lanes.join(", ")}; runtimes ${opts.runtimes.join(", ")}; ${opts.durationS} s per cell${opts.noMetrics ? "; hosts with --no-metrics" : ""}`,
  );
  const outcome = await harness.runBench(adapter, opts);
  adapter.writeOut(harness.formatReport(outcome));
  return outcome.report.results.some((r) => r.checkError) ? 1 : 0;
}

function listFlag<T extends string>(args: Parsed, name: string, allowed: readonly T[]): T[] {
  const v = args.flags[name];
  if (typeof v !== "string") return [...allowed];
  const items = v.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = items.filter((i) => !allowed.includes(i as T));
  if (items.length === 0 || bad.length > 0) {
    throw new LanesError("invalid_flag", `lanes bench: --${name} takes a list from ${allowed.join(",")} (got ${JSON.stringify(v)})`);
  }
  return items as T[];
}

function secondsFlag(args: Parsed, name: string, def: number): number {
  const v = args.flags[name];
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== "string" || !Number.isFinite(n) || n <= 0 || n > 3600) {
    throw new LanesError("invalid_flag", `lanes bench: --${name} must be a number of seconds from 0.1 to 3600 (got ${JSON.stringify(v)})`);
  }
  return n;
}
