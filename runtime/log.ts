/** Host log lines. Human-readable by default; `json` for one JSON object per line. */
export type LogFormat = "pretty" | "json";

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /** A line a function wrote to its console. */
  fn(name: string, level: string, text: string, requestId?: string): void;
}

export function createLogger(write: (line: string) => void, format: LogFormat = "pretty"): Logger {
  const line = (level: string, msg: string, extra: Record<string, unknown> = {}) => {
    if (format === "json") write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...extra }) + "\n");
    else write(`${level === "info" ? "" : `${level}: `}${msg}\n`);
  };
  return {
    info: (msg) => line("info", msg),
    warn: (msg) => line("warn", msg),
    error: (msg) => line("error", msg),
    fn: (name, level, text, requestId) => {
      if (format === "json") line(level, text, { function: name, ...(requestId ? { requestId } : {}) });
      else write(`[${name}${requestId ? ` ${requestId.slice(0, 8)}` : ""}] ${text}\n`);
    },
  };
}
