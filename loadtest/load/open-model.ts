/**
 * The open model: request i is due at t0 + i/R whatever the server does, and its latency runs
 * from that intended start, so a server that stalls sees the requests pile up and the stall
 * shows in the percentiles (no coordinated omission, as in wrk2).
 *
 * Requests go over a bounded pool of keep-alive connections (node:http's Agent, which Node, Bun
 * and Deno all implement). When every connection is busy, a due request waits for one and the
 * wait counts in its latency; one still waiting when its timeout passes never started. How late
 * requests started, and why, is reported: a generator that fell behind must say so rather than
 * pass its own slowness off as the server's.
 */
import * as http from "node:http";
import * as https from "node:https";
import type { Socket } from "node:net";
import { build } from "hdr-histogram-js";
import { LATE_MS, type Target } from "./options.ts";
import { errorKind, percentileMs, toMicros, type Recorder } from "./recorder.ts";
import { SendRate } from "./send-rate.ts";

export interface OpenRun {
  rate: number;
  durationS: number;
  timeoutS: number;
  maxConnections: number;
  /** Aborted (the user's Ctrl-C): nothing more is sent, requests in flight are dropped unrecorded. */
  stop?: AbortSignal;
}

export interface OpenStats {
  /** Requests due in the run. */
  due: number;
  /** Requests that went out on a connection. */
  sent: number;
  /** Requests that were still waiting for a free connection when their timeout passed. */
  notStarted: number;
  /** Requests that had to wait for a free connection (all were busy). */
  waitedForConnection: number;
  /** Requests the scheduler started more than LATE_MS after they were due. */
  late: number;
  /** How far behind schedule the scheduler started requests, in ms (waits for a connection apart). */
  startLagMs: { p50: number; p99: number; max: number };
  /** Requests per second that went out (send-rate.ts); the asked rate when fewer than two did. */
  achievedRate: number;
  /** From the first due time until the last request settled. */
  elapsedS: number;
  connectionsOpened: number;
  peakInFlight: number;
}

export interface Live {
  sent(): number;
  inFlight(): number;
}

export function runOpen(target: Target, o: OpenRun, rec: Recorder, live?: (l: Live) => void): Promise<OpenStats> {
  const secure = target.url.protocol === "https:";
  const agent = new (secure ? https : http).Agent({ keepAlive: true, maxSockets: o.maxConnections });
  const request = secure ? https.request : http.request;
  const url = target.url;
  const base = {
    hostname: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port || (secure ? 443 : 80),
    path: url.pathname + url.search,
    method: target.method,
    headers: { ...target.headers, ...(target.body ? { "content-length": String(target.body.byteLength) } : {}) },
    agent,
  };
  const timeoutMs = o.timeoutS * 1000;
  let due = Math.max(1, Math.round(o.rate * o.durationS));
  const lag = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 2, autoResize: true });
  const sockets = new Set<Socket>();
  const waiting: number[] = []; // numbers of the requests waiting for a connection
  const dropInFlight = new Set<() => void>();
  let next = 0;
  let inFlight = 0;
  let peakInFlight = 0;
  let sent = 0;
  let notStarted = 0;
  let waitedForConnection = 0;
  let late = 0;
  const sendRate = new SendRate();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let finish = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const t0 = performance.now();
  const dueAt = (k: number) => t0 + (k * 1000) / o.rate;
  live?.({ sent: () => sent, inFlight: () => inFlight });

  /** Request number k. `queued`: it waited for a free connection, so its lag is the pool's, not the scheduler's. */
  const send = (k: number, queued: boolean) => {
    const now = performance.now();
    const intended = dueAt(k);
    sent++;
    inFlight++;
    peakInFlight = Math.max(peakInFlight, inFlight);
    sendRate.add(k, (now - t0) / 1000);
    if (!queued) {
      lag.recordValue(toMicros(now - intended));
      if (now - intended > LATE_MS) late++;
    }
    let settled = false;
    let req: http.ClientRequest | undefined;
    const deadline = setTimeout(
      () => {
        settle(() => rec.error(intended - t0, "timeout", `no answer within ${o.timeoutS} s`));
        req?.destroy();
      },
      Math.max(0, intended + timeoutMs - now),
    );
    const settle = (record: () => void) => {
      if (settled) return;
      settled = true;
      dropInFlight.delete(drop);
      clearTimeout(deadline);
      inFlight--;
      record();
      pump();
    };
    // neither answered nor failed: the run was cut short under it
    const drop = () => {
      settle(() => {});
      req?.destroy();
    };
    dropInFlight.add(drop);
    req = request(base, (res) => {
      res.on("data", () => {});
      res.on("end", () => settle(() => rec.response(intended - t0, performance.now() - intended, res.statusCode ?? 0, 0)));
      res.on("error", (e) => settle(() => rec.error(intended - t0, errorKind(e), e.message)));
    });
    req.on("socket", (s) => {
      sockets.add(s);
      // Deno's node:http sends a request again, on a new connection, when its reused keep-alive
      // connection closes before the answer: on a reset by the server and on our own destroy()
      // at a timeout. The server would see it twice and the error would vanish; Node and Bun
      // never resend. A request that is not marked reused is not resent (../../adapters/README.md,
      // Load generator; https://github.com/denoland/deno/issues/36786).
      req!.reusedSocket = false;
    });
    req.on("error", (e) => settle(() => rec.error(intended - t0, errorKind(e), e.message)));
    req.end(target.body);
  };

  /** Start due requests while connections are free; drop those whose time ran out waiting. */
  const pump = () => {
    while (waiting.length > 0 && inFlight < o.maxConnections) {
      const k = waiting.shift()!;
      if (performance.now() >= dueAt(k) + timeoutMs) notStarted++;
      else send(k, true);
    }
    if (next >= due && inFlight === 0 && waiting.length === 0) finish();
  };

  const tick = () => {
    const now = performance.now();
    while (next < due && dueAt(next) <= now) {
      const k = next++;
      if (inFlight < o.maxConnections && waiting.length === 0) send(k, false);
      else {
        waitedForConnection++;
        waiting.push(k);
      }
    }
    if (next < due) timer = setTimeout(tick, Math.max(0, dueAt(next) - performance.now()));
    // requests waiting for a connection whose time runs out while nothing answers
    else if (waiting.length > 0) timer = setTimeout(tick, Math.max(1, dueAt(waiting[0]!) + timeoutMs - performance.now()));
    pump();
  };

  o.stop?.addEventListener("abort", () => {
    due = next;
    waiting.length = 0;
    clearTimeout(timer);
    for (const drop of [...dropInFlight]) drop();
    pump();
  });
  if (o.stop?.aborted) due = 0;
  tick();
  return finished.then(() => {
    clearTimeout(timer);
    for (const s of sockets) rec.bytesReceived += s.bytesRead;
    agent.destroy();
    return {
      due,
      sent,
      notStarted,
      waitedForConnection,
      late,
      startLagMs: {
        p50: percentileMs(lag, 50),
        p99: percentileMs(lag, 99),
        max: lag.maxValue / 1000,
      },
      achievedRate: sendRate.perSecond() ?? (sent === due ? o.rate : 0),
      elapsedS: (performance.now() - t0) / 1000,
      connectionsOpened: sockets.size,
      peakInFlight,
    };
  });
}
