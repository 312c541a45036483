/** Host log lines. Human-readable by default; `json` for one JSON object per line. */
export type LogFormat = "pretty" | "json";

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /** A line a function wrote to its console. */
  fn(name: string, level: string, text: string, requestId?: string): void;
}

/** `color`: ANSI colours for levels and function prefixes; only when writing to a terminal. */
export function createLogger(write: (line: string) => void, format: LogFormat = "pretty", color = false): Logger {
  const tint = (code: number, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const line = (level: string, msg: string, extra: Record<string, unknown> = {}) => {
    if (format === "json") write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...extra }) + "\n");
    else write(`${level === "info" ? "" : tint(level === "warn" ? 33 : 31, `${level}: `)}${msg}\n`);
  };
  return {
    info: (msg) => line("info", msg),
    warn: (msg) => line("warn", msg),
    error: (msg) => line("error", msg),
    fn: (name, level, text, requestId) => {
      if (format === "json") line(level, text, { function: name, ...(requestId ? { requestId } : {}) });
      else write(`${tint(36, `[${name}${requestId ? ` ${requestId.slice(0, 8)}` : ""}]`)} ${text}\n`);
    },
  };
}
