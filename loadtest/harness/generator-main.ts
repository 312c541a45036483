/**
 * The bench's load generator in a process of its own, one per run (harness/load.ts starts it):
 * autocannon as harness/generator.ts sets it up. A job comes as one JSON line on stdin; each
 * second of load goes out as `{"tick":N}` and the outcome as `{"done":{...}}` on stdout, with
 * the CPU this process used during the run (every thread: autocannon's and its garbage
 * collector's), which is the generator's share of the machine. `{"started":true}` comes first,
 * once the job is read: the bench measures from there, not from its own start-up.
 *
 * Run inside the bench process, autocannon carried what earlier cells left there: after the
 * `hello` cells (a million small answers each), it spent 0.27-0.31 ms of CPU per 256 KiB answer
 * instead of 0.10-0.17, and that, not the host, set the rate of the `direct` body cells
 * (../README.md, The load generator).
 *
 * The job's body comes as base64 text (350 KB for `body`'s 256 KiB), decoded once and then let
 * go: while the parsed job held it, V8 met the external-memory pressure of the answers' socket
 * buffers with full mark-compacts (167 in 7 s, against 9 without it), and autocannon spent 0.09-0.12
 * ms of CPU on its own code per 256 KiB request instead of 0.03-0.04 (../README.md, The
 * load generator).
 */
import { Buffer } from "node:buffer";
import process from "node:process";
import autocannon, { dropLostRequests } from "./generator.ts";
import { SAMPLE_MS, type GeneratorJob, type GeneratorOutcome } from "./load.ts";

/** The job, its body decoded: the text it came in is no longer reachable once this returns. */
async function readJob(): Promise<{ job: Omit<GeneratorJob, "body">; body: Buffer | undefined }> {
  let text = "";
  // decoded by the stream, so a character split between two reads arrives whole
  process.stdin.setEncoding("utf8");
  for await (const chunk of process.stdin) {
    text += chunk as string;
    if (text.includes("\n")) break;
  }
  const { body, ...job } = JSON.parse(text) as GeneratorJob;
  return { job, body: body === undefined ? undefined : Buffer.from(body, "base64") };
}

const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

const { job, body } = await readJob();
// the bench starts its window here: this process's own start-up is no part of the load
say({ started: true });
const cpu0 = process.cpuUsage();
// requests the server dropped before answering: errors, as they are for `lanes load`
let lost = 0;
const run = autocannon({
  url: job.url,
  method: job.method,
  headers: job.headers,
  ...(body === undefined ? {} : { body }),
  connections: job.connections,
  duration: job.durationS,
  sampleInt: SAMPLE_MS,
  pipelining: 1,
  timeout: 10,
  setupClient: (client) => dropLostRequests(client, () => lost++),
});
let second = 0;
run.on("tick", () => say({ tick: ++second }));
const r = await run;
const cpu = process.cpuUsage(cpu0);
const done: GeneratorOutcome = {
  rps: r.requests.total / r.duration,
  p50Ms: r.latency.p50,
  p99Ms: r.latency.p99,
  errors: r.errors + lost,
  non2xx: r.non2xx,
  requests: r.requests.total,
  generatorCpuMs: (cpu.user + cpu.system) / 1000,
};
say({ done });
// autocannon leaves nothing running, but a stray keep-alive timer must not hold the bench up
process.exit(0);
