/**
 * Talking to a host under test: single requests (correctness, cold start, warm latency) with
 * fetch, load with autocannon used as a library, in this process, never in the host's.
 */
import autocannon from "./generator.ts";
import { Buffer } from "node:buffer";
import type { Workload } from "./workloads.ts";

/**
 * autocannon's `sampleInt` for every run of ours. It acts on its duration only when it takes a
 * sample (every second by default): a 0.5 s run lasted 1 s. Samples every 100 ms end a run within
 * 0.1 s of what was asked; neither the bench nor `lanes load` reads the per-sample counts
 * (loadtest/README.md).
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
  /** Connection errors and timeouts. */
  errors: number;
  non2xx: number;
  requests: number;
}

export async function load(base: string, w: Workload, o: { durationS: number; connections: number; onTick?: (second: number) => void }): Promise<Measured> {
  const run = autocannon({
    url: base + w.path,
    method: w.method,
    headers: w.headers,
    // autocannon takes a string or a Buffer
    ...(w.body ? { body: Buffer.from(w.body.buffer, w.body.byteOffset, w.body.byteLength) } : {}),
    connections: o.connections,
    duration: o.durationS,
    sampleInt: SAMPLE_MS,
    pipelining: 1,
    timeout: 10,
  });
  let second = 0;
  run.on("tick", () => o.onTick?.(++second));
  const r = await run;
  return {
    rps: r.requests.total / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: r.errors,
    non2xx: r.non2xx,
    requests: r.requests.total,
  };
}
