/**
 * The access log: one line per request, in the format of the host's other lines (log.ts). JSON:
 * time, level, kind "access", msg, requestId, traceparent, function, lane, version, method,
 * path, status, durationMs. Pretty, for people: time, method, path, function@version (lane),
 * status, duration, the request id's first 8 characters (the prefix the function's console
 * lines carry) and the trace id's first 8.
 */
import { clock, type LogFormat } from "../log.ts";
import type { RequestLog } from "./served.ts";

export interface RequestLogOptions {
  format: LogFormat;
  color: boolean;
  write(line: string): void;
}

const paint = (code: number) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;
const COLORS = { dim: paint(2), bold: paint(1), red: paint(31), green: paint(32), yellow: paint(33), cyan: paint(36) };
const PLAIN = Object.fromEntries(Object.keys(COLORS).map((k) => [k, (s: string) => s])) as typeof COLORS;

export function requestLogger(o: RequestLogOptions): (entry: RequestLog) => void {
  if (o.format === "json") {
    return (e) =>
      o.write(
        `${JSON.stringify({
          time: new Date().toISOString(),
          level: e.status >= 500 ? "error" : "info",
          kind: "access",
          msg: `${e.method} ${e.path} ${e.status}`,
          requestId: e.requestId,
          traceparent: e.traceparent ?? null,
          function: e.fn ?? null,
          lane: e.lane ?? null,
          version: e.version ?? null,
          method: e.method,
          path: e.path,
          status: e.status,
          durationMs: Math.round(e.ms * 100) / 100,
        })}\n`,
      );
  }
  const c = o.color ? COLORS : PLAIN;
  return (e) => {
    const status = String(e.status);
    const tint = e.status >= 500 ? c.red : e.status >= 400 ? c.yellow : e.status >= 300 ? c.cyan : c.green;
    const target = e.fn ? `${e.fn}${e.version ? c.dim(`@${e.version.slice(0, 8)}`) : ""} ${c.dim(`(${e.lane})`)}` : c.dim("-");
    const ms = e.ms < 10 ? e.ms.toFixed(1) : String(Math.round(e.ms));
    const trace = e.traceparent ? c.dim(` trace ${e.traceparent.slice(3, 11)}`) : "";
    o.write(`${c.dim(clock(new Date()))} ${c.bold(e.method.padEnd(6))} ${printable(e.path)} -> ${target} ${tint(status)} ${ms} ms ${c.dim(e.requestId.slice(0, 8))}${trace}\n`);
  };
}

/**
 * The client's path, decoded for routing, with its control characters percent-encoded again: a
 * %0A in a URL wrote a second, forged line into the pretty log, and %1B an escape sequence to
 * the operator's terminal. (The JSON log escapes them itself.) Metrics write a route's label so too.
 */
export function printable(path: string): string {
  return path.replace(/[\x00-\x1f\x7f-\x9f]/g, encodeURIComponent);
}
