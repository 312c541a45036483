/**
 * The closed model: a fixed number of connections, each sending its next request when the last
 * one is answered (autocannon, as the bench uses it). Every answer and error autocannon reports
 * goes into the same Recorder as the open model's. A server that stalls slows the senders down
 * with it, so the stall shows as a lower rate and in the max, hardly in the percentiles.
 * https://github.com/mcollina/autocannon
 */
import autocannon from "../harness/generator.ts";
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

/**
 * When the server closes a connection before answering, autocannon reconnects and sends the
 * next request without reporting the lost one (lib/httpClient.js, the connection's "end"). One
 * request is in flight per connection (no pipelining), so a new "request" while one is still
 * unanswered means it was lost, unless a "timeout" (reported as an error) follows in the
 * same turn: autocannon reconnects first and then emits it.
 */
function countSilentResets(client: EventEmitter, rec: Recorder, t0: number, onRequest: () => void): void {
  let unanswered = false;
  // autocannon reconnects after a closed connection (its "end" or "error") without dropping the
  // lost request from its queue, so every later answer was timed from the lost request's start
  // and latencies grew with each reset. One request per connection: anything queued when the
  // next is sent was lost.
  const queue = (client as EventEmitter & { pipelinedRequests?: { size(): number; clear(): void } }).pipelinedRequests;
  client.on("request", () => {
    onRequest();
    if (queue && queue.size() > 0) queue.clear();
    if (unanswered) {
      const at = performance.now() - t0;
      let timedOut = false;
      const onTimeout = () => (timedOut = true);
      client.once("timeout", onTimeout);
      queueMicrotask(() => {
        client.off("timeout", onTimeout);
        if (!timedOut) rec.error(at, "reset", "the server closed the connection before answering");
      });
    }
    unanswered = true;
  });
  client.on("response", () => (unanswered = false));
  client.on("connError", () => (unanswered = false));
}
