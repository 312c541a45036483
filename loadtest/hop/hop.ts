/**
 * The cost of one hop through a lane, without HTTP or a load generator: a host in this process
 * gets requests straight into its handler (as the server would hand them over), `inflight` at a
 * time, and the CPU time of every thread and child is divided by the requests answered.
 *   <runtime> loadtest/hop/hop.ts [--lane isolate|process] [--requests N] [--inflight N]
 */
import { fileURLToPath } from "node:url";
import { loadAdapter } from "../../adapters/mod.ts";
import type { Exchange } from "../../adapters/types.ts";
import { intFlag, parseArgs, stringFlag } from "../../runtime/cli/args.ts";
import { startHost } from "../../runtime/host/host.ts";
import { createLogger } from "../../runtime/log.ts";
import { cpuSnapshot } from "../harness/proc.ts";

const adapter = await loadAdapter();
const args = parseArgs(adapter.argv(), { lane: "string", requests: "string", inflight: "string", rounds: "string" }, "hop");
const lane = stringFlag(args, "lane", "isolate");
const total = intFlag(args, "requests", 200_000, "hop", 1);
const inflight = intFlag(args, "inflight", 50, "hop", 1);
const rounds = intFlag(args, "rounds", 3, "hop", 1);
const dir = fileURLToPath(new URL(`./${lane}/`, import.meta.url));

const host = await startHost({ dir, port: 0, hostname: "127.0.0.1", dev: false, adapter, log: createLogger(() => {}) });

const HEADERS: [string, string][] = [["host", "127.0.0.1:8787"], ["user-agent", "hop"], ["accept", "*/*"]];
const exchange: Exchange = {
  method: "GET",
  target: "/hello",
  url: () => "http://127.0.0.1:8787/hello",
  headerPairs: () => HEADERS.slice(),
  header: () => undefined,
  body: () => null,
  onAbort() {},
  remoteAddress: () => "127.0.0.1",
};

/** CPU ms of this process (every thread) and everything below it (a sandboxed child is a grandchild). */
function cpuMs(): number {
  return [...cpuSnapshot(process.pid).values()].reduce((a, b) => a + b, 0);
}

async function run(n: number): Promise<void> {
  let sent = 0;
  const fast = host.currentHandler().fast;
  const one = async (): Promise<void> => {
    while (sent < n) {
      sent++;
      const r = await fast(exchange)!;
      if (r.status !== 200) throw new Error(`status ${r.status}: ${new TextDecoder().decode(r.body ?? new Uint8Array())}`);
    }
  };
  await Promise.all(Array.from({ length: inflight }, one));
}

await run(20_000); // warm up
for (let i = 0; i < rounds; i++) {
  const c0 = cpuMs();
  const t0 = performance.now();
  await run(total);
  const ms = performance.now() - t0;
  const cpu = cpuMs() - c0;
  console.log(`${adapter.name} ${lane}: ${Math.round((total / ms) * 1000)} req/s, ${((cpu * 1000) / total).toFixed(1)} us CPU/request`);
}
await host.stop(1000);
adapter.exit(0);
