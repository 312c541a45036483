/**
 * `lanes bench --rounds N`: each function's cells (direct, then each lane) measured N times in
 * turn, and one row per cell made of the N. On a VM whose speed drifts from minute to minute
 * (the same host's CPU per request moved by half within an hour on the machine of
 * ../README.md), a lane's figure is only comparable with a `direct` measured beside it:
 * so each round's overhead is taken against that round's own direct cell, and the row keeps
 * the median of those differences.
 */
import type { BenchResult, RoundFigures } from "./report.ts";

/** The middle value; with an even count, the mean of the two middle ones. */
export function median(xs: number[]): number {
  if (xs.length === 0) throw new RangeError("median of nothing");
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** What one round of one cell measured, its overhead against `direct` of the same round. */
export function roundFigures(r: BenchResult, direct: BenchResult | undefined): RoundFigures {
  const figures: RoundFigures = { rps: r.rps, cpuMsPerRequest: r.cpuMsPerRequest, foreignCpu: r.foreignCpu, generatorCores: r.generatorCores };
  if (r.lane === "direct" || !direct || direct.checkError || r.checkError) return figures;
  return { ...figures, overheadUs: (r.cpuMsPerRequest - direct.cpuMsPerRequest) * 1000, ...(direct.rps > 0 ? { xDirect: r.rps / direct.rps } : {}) };
}

/**
 * One row from a cell's rounds (all of one workload, lane and runtime). A failed round makes
 * the row that failure. Otherwise the row is the round with the median requests/s (its
 * latencies, memory and cold start, which belong together), with the median CPU per request,
 * the medians of each round's overhead and ratio to direct, and every round's figures.
 */
export function combineRounds(rounds: { result: BenchResult; figures: RoundFigures }[]): BenchResult {
  const failed = rounds.find((r) => r.result.checkError);
  if (failed) return failed.result;
  if (rounds.length === 1) {
    const only = rounds[0]!;
    return only.figures.overheadUs === undefined ? only.result : { ...only.result, overheadUs: only.figures.overheadUs };
  }
  const byRps = [...rounds].sort((a, b) => a.result.rps - b.result.rps);
  const middle = byRps[(byRps.length - 1) >> 1]!.result;
  const every = (k: "overheadUs" | "xDirect") => {
    const xs = rounds.flatMap((r) => (r.figures[k] === undefined ? [] : [r.figures[k]]));
    return xs.length === rounds.length ? { [k]: median(xs) } : {};
  };
  return {
    ...middle,
    cpuMsPerRequest: median(rounds.map((r) => r.result.cpuMsPerRequest)),
    hostCpuMsPerRequest: median(rounds.map((r) => r.result.hostCpuMsPerRequest)),
    childrenCpuMsPerRequest: median(rounds.map((r) => r.result.childrenCpuMsPerRequest)),
    faultsPerRequest: {
      host: median(rounds.map((r) => r.result.faultsPerRequest.host)),
      children: median(rounds.map((r) => r.result.faultsPerRequest.children)),
    },
    // the noisiest round marks the row: one disturbed round is enough to doubt the medians
    foreignCpu: Math.max(...rounds.map((r) => r.result.foreignCpu)),
    ...every("overheadUs"),
    ...every("xDirect"),
    rounds: rounds.map((r) => r.figures),
  };
}
