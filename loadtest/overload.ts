/**
 * Goodput under overload: hello in each lane, and a bare Hono app with the same handler, each
 * on its own host process, loaded at 100, 500 and 2,000 connections. Reports answers 200 per
 * second (goodput), refusals (503) per second and their latency, and each target's goodput at
 * 2,000 connections over its goodput at 100 next to the bare Hono app's same ratio. Then a slow
 * function (100 ms a request, so 2 instances x 64 in flight serve at most 1,280/s) in each lane,
 * whose queue goes stale under the flood: its goodput against that capacity, and how fast the
 * excess is refused.
 *   node --import tsx loadtest/overload.ts [--runtimes node,bun,deno] [--duration 5]
 *     [--cli PATH/runtime/cli/lanes.ts]   (another checkout's lanes, to measure "before")
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import hdr from "hdr-histogram-js";
import { loadAdapter } from "../adapters/mod.ts";
import { parseArgs, stringFlag } from "../runtime/cli/args.ts";
import { killAllHosts, startDirectHost, startLanesHost, type HostProcess } from "./harness/host-process.ts";
import { machine } from "./harness/machine.ts";
import type { BenchRuntime } from "./harness/report.ts";

const adapter = await loadAdapter();
const args = parseArgs(adapter.argv(), { runtimes: "string", duration: "string", cli: "string", levels: "string", queue: "string" }, "overload");
const runtimes = stringFlag(args, "runtimes", "node,bun,deno").split(",") as BenchRuntime[];
const durationS = Number(stringFlag(args, "duration", "5"));
const levels = stringFlag(args, "levels", "100,500,2000").split(",").map(Number);
const cli = args.flags.cli as string | undefined;
const queue = args.flags.queue === undefined ? {} : { queue: Number(stringFlag(args, "queue", "256")) };

const SLOW_MS = 100;
/** What the slow function can serve per second: 2 instances x 64 in flight, SLOW_MS each. */
const SLOW_CAPACITY = (2 * 64 * 1000) / SLOW_MS;
const dir = mkdtempSync(join(tmpdir(), "lanes-overload-"));
writeFileSync(join(dir, "hello.ts"), 'export default { fetch: () => new Response("hello\\n") };\n');
writeFileSync(
  join(dir, "slow.ts"),
  'export default { fetch: () => new Promise((r) => setTimeout(() => r(new Response("slow\\n")), SLOW_MS)) };\n'.replace("SLOW_MS", String(SLOW_MS)),
);
// the default pool of a function: 2 instances x 64 in flight, the default queue
writeFileSync(
  join(dir, "lanes.json"),
  JSON.stringify({
    functions: {
      hello: { entry: "hello.ts", route: "/hello", instances: { min: 2, max: 2 }, ...queue },
      "hello-process": { entry: "hello.ts", route: "/hello-process", lane: "process", instances: { min: 2, max: 2 }, ...queue },
      slow: { entry: "slow.ts", route: "/slow", instances: { min: 2, max: 2 }, ...queue },
      "slow-process": { entry: "slow.ts", route: "/slow-process", lane: "process", instances: { min: 2, max: 2 }, ...queue },
    },
  }),
);

interface Row {
  target: string;
  connections: number;
  goodput: number;
  refused: number;
  other: number;
  errors: number;
  p99ok: number;
  p99refused: number | null;
}

async function measure(url: string, connections: number): Promise<Omit<Row, "target" | "connections">> {
  const ok = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const refused = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let other = 0;
  const run = autocannon({
    url,
    connections,
    duration: durationS,
    pipelining: 1,
    timeout: 10,
    // each answer: its status, the bytes read, ms from writing the request
    setupClient: (client) =>
      client.on("response", (status: number, _bytes: number, ms: number) => {
        const us = Math.max(1, Math.round(ms * 1000));
        if (status === 200) ok.recordValue(us);
        else if (status === 503) refused.recordValue(us);
        else other++;
      }),
  });
  const r = await run;
  return {
    goodput: ok.totalCount / r.duration,
    refused: refused.totalCount / r.duration,
    other,
    errors: r.errors + r.timeouts,
    p99ok: ok.getValueAtPercentile(99) / 1000,
    p99refused: refused.totalCount ? refused.getValueAtPercentile(99) / 1000 : null,
  };
}

const rows: Row[] = [];
try {
  for (const runtime of runtimes) {
    const binary = adapter.runtimeBinary(runtime);
    const targets: [string, () => Promise<HostProcess>, string][] = [
      ["bare Hono", () => startDirectHost(runtime, binary, dir, "hello"), "/hello"],
      ["isolate", () => startLanesHost(runtime, binary, dir, cli ? { cli } : {}), "/hello"],
      ["process", () => startLanesHost(runtime, binary, dir, cli ? { cli } : {}), "/hello-process"],
      [`isolate ${SLOW_MS} ms`, () => startLanesHost(runtime, binary, dir, cli ? { cli } : {}), "/slow"],
      [`process ${SLOW_MS} ms`, () => startLanesHost(runtime, binary, dir, cli ? { cli } : {}), "/slow-process"],
    ];
    for (const [name, start, path] of targets) {
      const host = await start();
      try {
        await measure(host.url + path, 50); // warm up
        for (const c of levels) {
          const m = await measure(host.url + path, c);
          const row = { target: `${runtime} ${name}`, connections: c, ...m };
          rows.push(row);
          process.stderr.write(
            `${row.target.padEnd(16)} c=${String(c).padEnd(5)} goodput ${Math.round(m.goodput)}/s, refused ${Math.round(m.refused)}/s, p99 of 503s ${m.p99refused ?? "-"} ms, of 200s ${m.p99ok} ms, errors ${m.errors}\n`,
          );
        }
      } finally {
        await host.stop();
      }
    }
  }
} finally {
  killAllHosts();
  rmSync(dir, { recursive: true, force: true });
}

const m = machine();
console.log(`\n${m.cpuModel}, ${m.cores} cores · ${durationS} s per run · ${cli ? `lanes from ${cli}` : "this checkout"}\n`);
console.log(
  "| target | " +
    levels.map((c) => `goodput @${c}`).join(" | ") +
    ` | @${levels.at(-1)} / @${levels[0]} | vs bare | 503/s @${levels.at(-1)} | p99 of 503s | p99 of 200s @${levels.at(-1)} |`,
);
console.log(`|---|${levels.map(() => "---:").join("|")}|---:|---:|---:|---:|---:|`);
for (const target of [...new Set(rows.map((r) => r.target))]) {
  const mine = rows.filter((r) => r.target === target);
  // the slow function is measured against what it can serve, not against a bare app
  const slow = target.endsWith(`${SLOW_MS} ms`);
  const bare = slow ? [] : rows.filter((r) => r.target === `${target.split(" ")[0]} bare Hono`);
  const ratio = (rs: Row[]) => rs.at(-1)!.goodput / rs[0]!.goodput;
  const last = mine.at(-1)!;
  console.log(
    `| ${target} | ${mine.map((r) => Math.round(r.goodput).toLocaleString("en-US")).join(" | ")} | ${ratio(mine).toFixed(2)} | ${bare.length ? (ratio(mine) / ratio(bare)).toFixed(2) : slow ? `${(last.goodput / SLOW_CAPACITY).toFixed(2)} of ${SLOW_CAPACITY}/s` : "-"} | ${Math.round(last.refused).toLocaleString("en-US")} | ${last.p99refused === null ? "-" : `${last.p99refused} ms`} | ${last.p99ok} ms |`,
  );
}
adapter.exit(0);
