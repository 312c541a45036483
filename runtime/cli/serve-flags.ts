/**
 * The flags `lanes start` and `lanes dev` share, and where their lines go: every log line (one
 * per request, function output, host events) to stdout in one format, written once per event-
 * loop turn; `--log` picks the format, else pretty on a terminal and JSON otherwise.
 */
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits, type RuntimeAdapter } from "../../adapters/types.ts";
import { LanesError } from "../errors.ts";
import { requestLogger } from "../host/request-log.ts";
import type { RequestLog } from "../host/served.ts";
import { batchedWriter, createLogger, LOG_FORMATS, type LogFormat, type Logger } from "../log.ts";
import { intFlag, numberFlag, stringFlag, type Parsed } from "./args.ts";

export const SERVE_FLAGS = {
  port: "string",
  host: "string",
  log: "string",
  "no-access-log": "boolean",
  "no-metrics": "boolean",
  "otlp-endpoint": "string",
  "header-timeout": "string",
  "keep-alive-timeout": "string",
} as const;

export interface ServeOptions {
  port: number;
  hostname: string;
  metrics: boolean;
  otlpEndpoint?: string;
  connections: ConnectionLimits;
}

export interface ServerOutput {
  log: Logger;
  onRequest?: (entry: RequestLog) => void;
  format: LogFormat;
  color: boolean;
  /** The one line that says the host accepts requests. */
  listening(url: string): void;
  /** Write what is buffered (before the process exits). */
  flush(): void;
}

export function serveOptions(args: Parsed, command: string): ServeOptions {
  const otlp = args.flags["otlp-endpoint"];
  if (otlp !== undefined && !/^https?:\/\/[^\s/]+/.test(String(otlp))) {
    throw new LanesError("invalid_flag", `lanes ${command}: --otlp-endpoint must be an http:// or https:// URL, e.g. http://127.0.0.1:4318 (got ${JSON.stringify(otlp)})`);
  }
  // "" (an unset shell variable) listened on every address, printing "listening on http://:8787"
  if (typeof args.flags.host === "string" && args.flags.host.trim() === "") {
    throw new LanesError(
      "invalid_flag",
      `lanes ${command}: --host needs a value, e.g. 127.0.0.1, 0.0.0.0 (every IPv4 address) or :: (every address) (got ${JSON.stringify(args.flags.host)})`,
    );
  }
  return {
    port: intFlag(args, "port", 8787, command, 0, 65535),
    hostname: stringFlag(args, "host", "127.0.0.1"),
    metrics: args.flags["no-metrics"] !== true,
    // Node refuses a head timeout past its whole-request timeout (300 s)
    connections: {
      headerTimeoutMs: numberFlag(args, "header-timeout", DEFAULT_CONNECTION_LIMITS.headerTimeoutMs / 1000, command, 1, 300, "a number of seconds") * 1000,
      keepAliveMs: numberFlag(args, "keep-alive-timeout", DEFAULT_CONNECTION_LIMITS.keepAliveMs / 1000, command, 1, 3600, "a number of seconds") * 1000,
    },
    ...(typeof otlp === "string" ? { otlpEndpoint: otlp } : {}),
  };
}

export function serverOutput(adapter: RuntimeAdapter, args: Parsed, command: string, mapLog: (log: Logger) => Logger = (l) => l): ServerOutput {
  const given = args.flags.log;
  if (given !== undefined && !(LOG_FORMATS as readonly unknown[]).includes(given)) {
    throw new LanesError("invalid_flag", `lanes ${command}: --log must be "pretty" or "json" (got ${JSON.stringify(given)})`);
  }
  const format: LogFormat = (given as LogFormat | undefined) ?? (adapter.isTTY() ? "pretty" : "json");
  const color = format === "pretty" && adapter.color();
  const out = batchedWriter(adapter.writeOut, (fn) => adapter.schedule(fn));
  const log = mapLog(createLogger(out.write, format, color, { clock: true }));
  return {
    log,
    format,
    color,
    ...(args.flags["no-access-log"] === true ? {} : { onRequest: requestLogger({ format, color, write: out.write }) }),
    listening(url) {
      // the one line that is never JSON: scripts, process managers and `lanes bench` wait for
      // exactly `listening on http://HOST:PORT` on a line of its own, whatever the log format
      out.write(`listening on ${url}\n`);
      if (format === "json") log.info(`listening on ${url}`);
      out.flush();
    },
    flush: out.flush,
  };
}
