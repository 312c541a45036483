/**
 * One line per request for `lanes dev` (and `lanes start --log`): time, method, path, function,
 * lane, the deployed version when there is one, status, duration, request id. `pretty` is for
 * people (colours only when writing to a terminal), `json` is one object per line for tools. The request id is the one in the `x-request-id` header; pretty
 * lines show its first 8 characters, the same prefix the function's console lines carry.
 */
import type { LogFormat } from "../log.ts";
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
        JSON.stringify({
          time: new Date().toISOString(),
          level: "info",
          msg: "request",
          method: e.method,
          path: e.path,
          function: e.fn ?? null,
          lane: e.lane ?? null,
          ...(e.version ? { version: e.version } : {}),
          status: e.status,
          ms: Math.round(e.ms * 10) / 10,
          requestId: e.requestId,
        }) + "\n",
      );
  }
  const c = o.color ? COLORS : PLAIN;
  return (e) => {
    const status = String(e.status);
    const tint = e.status >= 500 ? c.red : e.status >= 400 ? c.yellow : e.status >= 300 ? c.cyan : c.green;
    const target = e.fn ? `${e.fn}${e.version ? `@${e.version}` : ""} ${c.dim(`(${e.lane})`)}` : c.dim("-");
    const ms = e.ms < 10 ? e.ms.toFixed(1) : String(Math.round(e.ms));
    o.write(
      `${c.dim(clock(new Date()))} ${c.bold(e.method.padEnd(6))} ${e.path} -> ${target} ${tint(status)} ${ms} ms ${c.dim(e.requestId.slice(0, 8))}\n`,
    );
  };
}

/** HH:MM:SS.mmm in local time: a dev server's log is read next to a wall clock. */
function clock(d: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}
