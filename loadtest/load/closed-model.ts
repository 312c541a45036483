/**
 * The closed model: a fixed number of connections, each sending its next request when the last
 * one is answered (autocannon, as the bench uses it). Every answer and error autocannon reports
 * goes into the same Recorder as the open model's. A server that stalls slows the senders down
 * with it, so the stall shows as a lower rate and in the max, hardly in the percentiles.
 * https://github.com/mcollina/autocannon
 */
import autocannon, { dropLostRequests } from "../harness/generator.ts";
import { Buffer } from "node:buffer";
import type { EventEmitter } from "node:events";
import { SAMPLE_MS } from "../harness/load.ts";
import type { Target } from "./options.ts";
import { errorKind, type Recorder } from "./recorder.ts";

export interface ClosedRun {
  connections: number;
  durationS: number;
  timeoutS: number;
  /** Aborted (the user's Ctrl-C): autocannon stops, its requests in flight unrecorded. */
  stop?: AbortSignal;
}

export interface ClosedStats {
  sent: number;
  /** Seconds autocannon ran. */
  elapsedS: number;
}

export async function runClosed(target: Target, o: ClosedRun, rec: Recorder, live?: (sent: () => number) => void): Promise<ClosedStats> {
  const t0 = performance.now();
  let sent = 0;
  live?.(() => sent);
  const run = autocannon({
    url: target.url.href,
    method: target.method,
    headers: target.headers,
    // autocannon takes a string or a Buffer
    ...(target.body ? { body: Buffer.from(target.body.buffer, target.body.byteOffset, target.body.byteLength) } : {}),
    connections: o.connections,
    duration: o.durationS,
    sampleInt: SAMPLE_MS, // else a 1.5 s run lasted 2 s
    timeout: o.timeoutS,
    pipelining: 1,
    setupClient: (client) => countSilentResets(client, rec, t0, () => sent++),
  });
  run.on("response", (_client, status, bytes, ms) => rec.response(performance.now() - t0 - ms, ms, status, bytes));
  run.on("reqError", (e) => {
    // a timed-out request was sent `timeoutS` ago
    const kind = errorKind(e);
    rec.error(performance.now() - t0 - (kind === "timeout" ? o.timeoutS * 1000 : 0), kind, e.message);
  });
  const stop = () => run.stop();
  o.stop?.addEventListener("abort", stop);
  if (o.stop?.aborted) stop();
  const r = await run;
  o.stop?.removeEventListener("abort", stop);
  return { sent, elapsedS: r.duration };
}

/** Counts each request sent, and each one the server dropped before answering as a "reset" (generator.ts). */
function countSilentResets(client: EventEmitter, rec: Recorder, t0: number, onRequest: () => void): void {
  client.on("request", onRequest);
  dropLostRequests(client, (at) => rec.error(at - t0, "reset", "the server closed the connection before answering"));
}
