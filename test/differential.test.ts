/**
 * The differential conformance suite: the same function called in-process on the bare runtime
 * (the oracle, a fresh process of that runtime with nothing of lanes loaded) and through a real
 * lanes host over real HTTP, in the isolate lane and in the process lane with a node, a bun and a
 * deno child. Status, status text, headers (less x-request-id, date, content-length,
 * transfer-encoding and hop-by-hop ones) and body must agree byte for byte. The same cases also
 * run against the function written in the service-worker style. Runs with the host on Node, Bun
 * and Deno (test/run.mjs). Where a host genuinely cannot match, compare.ts names the case and why.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { RuntimeName } from "../adapters/types.ts";
import { differentialCases, type Case } from "./helpers/differential/cases.ts";
import { differences, expected, knownDifference } from "./helpers/differential/compare.ts";
import { oracle } from "./helpers/differential/oracle.ts";
import type { Outcome } from "./helpers/differential/outcome.ts";
import { send } from "./helpers/differential/raw-client.ts";
import { measure } from "./helpers/chaos.ts";
import { adapter, fixtures, startTestHost, type TestHost } from "./helpers/host.ts";

interface Combo {
  label: string;
  lane: "isolate" | "process";
  runtime: RuntimeName;
}
const COMBOS: Combo[] = [
  { label: "isolate", lane: "isolate", runtime: adapter.name },
  ...(["node", "bun", "deno"] as const).map((rt): Combo => ({ label: `process-${rt}`, lane: "process", runtime: rt })),
];
/** Requests in flight at once per lane: enough to overlap, few enough for 2 shared cores. */
const BATCH = 12;

const test = suite<{ h: TestHost; oracles: Map<string, Outcome[]>; cases: Map<string, Case[]>; started: number }>(`differential (${adapter.name} host)`);

test.before(async (ctx) => {
  ctx.started = Date.now();
  const functions: Record<string, Record<string, unknown>> = {};
  for (const c of COMBOS) {
    const base = { lane: c.lane, ...(c.lane === "process" ? { runtime: c.runtime } : {}), timeoutMs: 20_000, instances: { min: 0, max: 1 } };
    functions[`fid-${c.label}`] = { entry: "fidelity.ts", route: `/fid-${c.label}/*`, ...base };
    functions[`sw-${c.label}`] = { entry: "fidelity-sw.ts", route: `/sw-${c.label}/*`, ...base };
  }
  ctx.h = await startTestHost(functions);
  ctx.cases = new Map();
  for (const c of COMBOS) for (const style of ["fid", "sw"]) ctx.cases.set(`${style}-${c.label}`, differentialCases(`/${style}-${c.label}`));
  // one bare process per runtime answers every case of the lanes that run on it
  ctx.oracles = new Map();
  await Promise.all(
    (["node", "bun", "deno"] as const).map(async (rt) => {
      const keys = [...ctx.cases.keys()].filter((k) => comboOf(k).runtime === rt);
      const specs = keys.flatMap((k) => ctx.cases.get(k)!.map((c) => c.spec));
      const outcomes = await oracle(rt, `${fixtures}fidelity.ts`, ctx.h.url, specs);
      let at = 0;
      for (const k of keys) {
        const n = ctx.cases.get(k)!.length;
        ctx.oracles.set(k, outcomes.slice(at, at + n));
        at += n;
      }
    }),
  );
});
test.after(async (ctx) => {
  await ctx.h.stop();
  measure(`differential suite, ${adapter.name} host: ran in`, `${((Date.now() - ctx.started) / 1000).toFixed(1)} s`);
});

function comboOf(key: string): Combo {
  return COMBOS.find((c) => key.endsWith(`-${c.label}`))!;
}

async function runAll(h: TestHost, key: string, cases: Case[], outcomes: Outcome[]): Promise<string[]> {
  const combo = comboOf(key);
  const failures: string[] = [];
  const limited = new Set<string>();
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      const c = cases[i]!;
      const where = { runtime: combo.runtime, host: adapter.name, lane: combo.lane, stringDefaultType: c.stringDefaultType };
      const want = expected(outcomes[i]!, c.spec.method, where);
      const known = knownDifference(c.name, where);
      if (want.limitation) limited.add(want.limitation);
      if (known) limited.add(`${c.name}: ${known.why}`);
      try {
        const got = await send(h.url, c.spec);
        const diffs = known ? known.check(got) : differences(want, got);
        if (diffs.length) failures.push(`${c.name} (${c.spec.method} ${c.spec.target}):\n      ${diffs.join("\n      ")}`);
      } catch (e) {
        failures.push(`${c.name}: ${(e as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: BATCH }, worker));
  measure(`differential, ${adapter.name} host, ${key}`, `${cases.length} cases${limited.size ? `; compared differently: ${[...limited].join("; ")}` : ""}`);
  return failures;
}

for (const combo of COMBOS) {
  const where = combo.lane === "isolate" ? `the isolate lane (${adapter.name} worker)` : `a ${combo.runtime} child`;
  test(`every case answers through lanes in ${where} as the function does in-process on bare ${combo.runtime}`, async ({ h, cases, oracles }) => {
    const key = `fid-${combo.label}`;
    const failures = await runAll(h, key, cases.get(key)!, oracles.get(key)!);
    assert.is(failures.length, 0, `${failures.length} case(s) differ:\n  ${failures.join("\n  ")}`);
  });

  test(`the same function in the service-worker style answers every case the same way in ${where}`, async ({ h, cases, oracles }) => {
    const key = `sw-${combo.label}`;
    const failures = await runAll(h, key, cases.get(key)!, oracles.get(key)!);
    assert.is(failures.length, 0, `${failures.length} case(s) differ:\n  ${failures.join("\n  ")}`);
  });
}

test.run();
