/**
 * The closed model: a fixed number of connections, each sending its next request when the last
 * one is answered (autocannon, as the bench uses it). Every answer and error autocannon reports
 * goes into the same Recorder as the open model's. A server that stalls slows the senders down
 * with it, so the stall shows as a lower rate and in the max, hardly in the percentiles.
 * https://github.com/mcollina/autocannon
 */
import autocannon from "autocannon";
import { Buffer } from "node:buffer";
import type { Target } from "./options.ts";
import { errorKind, type Recorder } from "./recorder.ts";

export interface ClosedRun {
  connections: number;
  durationS: number;
  timeoutS: number;
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
    timeout: o.timeoutS,
    pipelining: 1,
  });
  run.on("response", (_client, status, bytes, ms) => {
    sent++;
    rec.response(performance.now() - t0 - ms, ms, status, bytes);
  });
  run.on("reqError", (e) => {
    sent++;
    // a timed-out request was sent `timeoutS` ago
    const kind = errorKind(e);
    rec.error(performance.now() - t0 - (kind === "timeout" ? o.timeoutS * 1000 : 0), kind, e.message);
  });
  const r = await run;
  return { sent: Math.max(sent, r.requests.sent), elapsedS: r.duration };
}
