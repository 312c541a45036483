/**
 * Talking to a host under test: single requests (correctness, cold start, warm latency) with
 * fetch, load with autocannon in a process of its own per run (generator-main.ts), never in the
 * host's nor in the bench's.
 */
import { spawn } from "node:child_process";
import { Buffer } from "node:buffer";
import type { Workload } from "./workloads.ts";

/**
 * autocannon's `sampleInt` for every run of ours. It acts on its duration only when it takes a
 * sample (every second by default): a 0.5 s run lasted 1 s. Samples every 100 ms end a run within
 * 0.1 s of what was asked; neither the bench nor `lanes load` reads the per-sample counts
 * (../README.md).
 */
export const SAMPLE_MS = 100;

export interface Answer {
  status: number;
  body: Uint8Array;
  ms: number;
}

export async function send(base: string, w: Workload, query = ""): Promise<Answer> {
  const t0 = performance.now();
  const res = await fetch(base + w.path + query, {
    method: w.method,
    headers: w.headers,
    ...(w.body ? { body: w.body as BodyInit } : {}),
  });
  const body = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, body, ms: performance.now() - t0 };
}

/** Undefined when the endpoint answers as the workload expects; else what went wrong. */
export async function checkAnswer(base: string, w: Workload): Promise<string | undefined> {
  const a = await send(base, w);
  const why = w.check(a.status, a.body, w.body);
  if (!why) return undefined;
  const text = new TextDecoder().decode(a.body.slice(0, 200));
  return `${w.method} ${w.path}: ${why} (got ${a.status} ${JSON.stringify(text)})`;
}

/** Median latency of `n` requests sent one at a time. */
export async function warmLatency(base: string, w: Workload, n = 15): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) ms.push((await send(base, w)).ms);
  ms.sort((a, b) => a - b);
  return ms[Math.floor(n / 2)]!;
}

/** What one autocannon run measured. */
export interface Measured {
  /** Requests per second over the measured window (2xx and others alike). */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Connection errors, timeouts, and requests the server dropped before answering (generator.ts). */
  errors: number;
  non2xx: number;
  requests: number;
}

/** A run, as the bench sends it to generator-main.ts (the body in base64). */
export interface GeneratorJob {
  url: string;
  method: string;
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  durationS: number;
}

/** What the generator process says once its run is over: the CPU it used meanwhile too. */
export type GeneratorOutcome = Measured & { generatorCpuMs: number };

/** How to start generator-main.ts on the bench's own runtime (host-process.ts, generatorCommand): command, arguments, and variables added to the bench's environment. */
export type GeneratorCommand = [string, string[], Record<string, string>?];

export async function load(
  base: string,
  w: Workload,
  o: { generator: GeneratorCommand; durationS: number; connections: number; onStart?: () => void; onTick?: (second: number) => void },
): Promise<GeneratorOutcome> {
  const job: GeneratorJob = {
    url: base + w.path,
    method: w.method,
    ...(w.headers ? { headers: w.headers } : {}),
    ...(w.body ? { body: Buffer.from(w.body.buffer, w.body.byteOffset, w.body.byteLength).toString("base64") } : {}),
    connections: o.connections,
    durationS: o.durationS,
  };
  const [cmd, args, env] = o.generator;
  const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } });
  let done: GeneratorOutcome | undefined;
  let err = "";
  let out = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => void (err = (err + d).slice(-2000)));
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    out += d;
    for (let nl = out.indexOf("\n"); nl >= 0; nl = out.indexOf("\n")) {
      const line = JSON.parse(out.slice(0, nl)) as { started?: boolean; tick?: number; done?: GeneratorOutcome };
      out = out.slice(nl + 1);
      if (line.started) o.onStart?.();
      if (line.tick !== undefined) o.onTick?.(line.tick);
      if (line.done) done = line.done;
    }
  });
  // a generator that dies at once closes its stdin first: what it said is the error, not the pipe's
  child.stdin!.on("error", () => {});
  child.stdin!.end(`${JSON.stringify(job)}\n`);
  // autocannon ends a run within a sample of its duration; a generator that hangs is killed
  const killer = setTimeout(() => child.kill("SIGKILL"), (o.durationS + 30) * 1000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  }).finally(() => clearTimeout(killer));
  if (!done) throw new Error(`the load generator (${cmd} ${args.join(" ")}) exited with ${code} and no result: ${err.trim() || "(no output)"}`);
  return done;
}
