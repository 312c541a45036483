/**
 * The cost of one hop through a lane, without HTTP or a load generator: a host in this process
 * gets requests straight into its handler (as the server would hand them over), `inflight` at a
 * time, and the CPU time of every thread and child is divided by the requests answered.
 *   <runtime> loadtest/hop/hop.ts [--lane isolate|process] [--requests N] [--inflight N] [--no-metrics]
 * `--ab`: two hosts in this process, one counting requests for /_lanes/metrics and one with
 * metrics off, measured in alternating rounds (the same machine noise for both): what metrics
 * cost a request, as the median over the rounds.
 */
import { fileURLToPath } from "node:url";
import { loadAdapter } from "../../adapters/mod.ts";
import type { Exchange } from "../../adapters/types.ts";
import { intFlag, parseArgs, stringFlag } from "../../runtime/cli/args.ts";
import { startHost } from "../../runtime/host/host.ts";
import { createLogger } from "../../runtime/log.ts";
import { usageSnapshot } from "../harness/proc.ts";

const adapter = await loadAdapter();
const args = parseArgs(adapter.argv(), { lane: "string", requests: "string", inflight: "string", rounds: "string", "no-metrics": "boolean", ab: "boolean" }, "hop");
const lane = stringFlag(args, "lane", "isolate");
const total = intFlag(args, "requests", 200_000, "hop", 1);
const inflight = intFlag(args, "inflight", 50, "hop", 1);
const rounds = intFlag(args, "rounds", 3, "hop", 1);
const dir = fileURLToPath(new URL(`./${lane}/`, import.meta.url));

const metrics = args.flags["no-metrics"] !== true;
const ab = args.flags.ab === true;
const start = (metrics: boolean) => startHost({ dir, port: 0, hostname: "127.0.0.1", dev: false, adapter, log: createLogger(() => {}), metrics });
const host = await start(metrics);

const HEADERS: [string, string][] = [
  ["host", "127.0.0.1:8787"],
  ["user-agent", "hop"],
  ["accept", "*/*"],
];
const exchange: Exchange = {
  method: "GET",
  target: "/hello",
  url: () => "http://127.0.0.1:8787/hello",
  headerPairs: () => HEADERS.map((h) => [h[0], h[1]] as [string, string]),
  header: () => undefined,
  body: () => null,
  onAbort() {},
  remoteAddress: () => "127.0.0.1",
};

/** CPU ms of this process (every thread) and everything below it (a sandboxed child is a grandchild). */
function cpuMs(): number {
  return [...usageSnapshot(process.pid).values()].reduce((ms, u) => ms + u.cpuMs, 0);
}

async function run(n: number, fast = host.currentHandler().fast): Promise<void> {
  let sent = 0;
  const one = async (): Promise<void> => {
    while (sent < n) {
      sent++;
      const r = await fast(exchange)!;
      if (r.status !== 200) throw new Error(`status ${r.status}: ${new TextDecoder().decode(r.body ?? new Uint8Array())}`);
    }
  };
  await Promise.all(Array.from({ length: inflight }, one));
}

/** One round: req/s and µs of CPU per request. */
async function measure(n: number, fast = host.currentHandler().fast): Promise<[number, number]> {
  const c0 = cpuMs();
  const t0 = performance.now();
  await run(n, fast);
  return [(n / (performance.now() - t0)) * 1000, ((cpuMs() - c0) * 1000) / n];
}

if (ab) {
  const off = await start(false);
  const sides = [
    { name: "metrics on", fast: host.currentHandler().fast, got: [] as [number, number][] },
    { name: "metrics off", fast: off.currentHandler().fast, got: [] as [number, number][] },
  ];
  for (const s of sides) await run(20_000, s.fast); // warm up
  for (let i = 0; i < rounds; i++) {
    for (const s of i % 2 ? [...sides].reverse() : sides) s.got.push(await measure(total, s.fast));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const [on, offSide] = sides.map((s) => ({ rps: median(s.got.map((g) => g[0])), cpu: median(s.got.map((g) => g[1])) }));
  for (const [s, m] of [
    [sides[0]!, on!],
    [sides[1]!, offSide!],
  ] as const) {
    console.log(`${adapter.name} ${lane}, ${s.name}: ${Math.round(m.rps)} req/s, ${m.cpu.toFixed(1)} us CPU/request (median of ${rounds} rounds of ${total})`);
  }
  console.log(`${adapter.name} ${lane}: metrics cost ${(on!.cpu - offSide!.cpu).toFixed(2)} us CPU/request (${((on!.cpu / offSide!.cpu - 1) * 100).toFixed(1)}%)`);
  await off.stop(1000);
  await host.stop(1000);
  adapter.exit(0);
}

await run(20_000); // warm up
for (let i = 0; i < rounds; i++) {
  const c0 = cpuMs();
  const t0 = performance.now();
  await run(total);
  const ms = performance.now() - t0;
  const cpu = cpuMs() - c0;
  console.log(`${adapter.name} ${lane}${metrics ? "" : " --no-metrics"}: ${Math.round((total / ms) * 1000)} req/s, ${((cpu * 1000) / total).toFixed(1)} us CPU/request`);
}
await host.stop(1000);
adapter.exit(0);
