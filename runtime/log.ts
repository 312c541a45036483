/**
 * Log lines: host events, what functions write to their console, and (request-log.ts) one line
 * per request, all in one format. `json`: one object per line with `time`, `level`, `kind`
 * ("host", "function" or "access") and `msg`, plus the request id where there is one. `pretty`:
 * for people, with the time of day when `clock` is on and colours only when `color` is.
 */
export type LogFormat = "pretty" | "json";
export const LOG_FORMATS = ["pretty", "json"] as const;

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /** A line a function wrote to its console. */
  fn(name: string, level: string, text: string, requestId?: string): void;
  /**
   * A function's guest drops lines itself, over the same budget (../guest/console-capture.ts):
   * 0 when it starts to, in a second; then how many it dropped, once that second is over.
   */
  dropped(name: string, lines: number): void;
}

export interface LoggerOptions {
  /** Prefix pretty lines with HH:MM:SS.mmm (the servers' logs; one-shot commands leave it off). */
  clock?: boolean;
}

/**
 * What one function may put in the host's log: lines a second, and characters a line. A child
 * writing a megabyte of newlines made a million log lines (111 MB) in two seconds; past the
 * rate, the rest of that second's lines are dropped, and the log says so and how many, once the
 * second is over (whether or not the function writes again). A guest keeps to the same budget
 * itself (../guest/console-capture.ts) and tells the host how many it dropped; the host's own
 * check stays for a child that writes its frames itself.
 */
export const FN_LINES_PER_SECOND = 1000;
export const FN_LINE_MAX_CHARS = 16 * 1024;
const CUT_NOTE = /^ \.\.\. \(\d+ more characters cut\)$/;

/** A line cut to `head`, saying how much of it was left out. */
export const cutLine = (head: string, more: number): string => `${head} ... (${more} more characters cut)`;

/** console.log is an info line; the other console methods name their level. */
const LEVEL: Record<string, string> = { log: "info", info: "info", warn: "warn", error: "error", debug: "debug" };

export function createLogger(write: (line: string) => void, format: LogFormat = "pretty", color = false, o: LoggerOptions = {}): Logger {
  const tint = (code: number, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const when = () => (o.clock ? `${tint(2, clock(new Date()))} ` : "");
  const host = (level: string, msg: string) => {
    if (format === "json") write(`${JSON.stringify({ time: new Date().toISOString(), level, kind: "host", msg })}\n`);
    // a host line may quote a function (its error's message, its stderr when it crashed): its
    // newlines indented too, or a crash's message wrote a line that read as an access line
    else write(`${when()}${level === "info" ? "" : tint(level === "warn" ? 33 : 31, `${level}: `)}${readable(msg)}\n`);
  };
  type Budget = { second: number; lines: number; dropped: number; warned: boolean; noted: boolean; timer?: ReturnType<typeof setTimeout> };
  const budget = new Map<string, Budget>();
  const dropNote = (name: string, n: number) => host("warn", `function ${name}: ${n} line(s) of its output were dropped (more than ${FN_LINES_PER_SECOND} a second)`);
  /** Says how many of `name`'s lines its second dropped, if any. */
  const report = (name: string, b: Budget) => {
    clearTimeout(b.timer);
    b.timer = undefined;
    if (b.dropped > 0) dropNote(name, b.dropped);
    b.dropped = 0;
  };
  /** Says, once a second, that `name`'s lines are being dropped. */
  const warn = (name: string, b: Budget) => {
    if (!b.warned) host("warn", `function ${name} writes more than ${FN_LINES_PER_SECOND} lines a second: the rest of this second's are dropped`);
    b.warned = true;
  };
  /** `name`'s budget for this second. */
  const budgetOf = (name: string): Budget => {
    const second = Math.floor(Date.now() / 1000);
    let b = budget.get(name);
    if (!b) budget.set(name, (b = { second, lines: 0, dropped: 0, warned: false, noted: false }));
    if (b.second !== second) {
      report(name, b);
      b.second = second;
      b.lines = 0;
      b.warned = false;
      b.noted = false;
    }
    return b;
  };
  /** Counts `n` dropped lines of `name`, to say how many once the second is over. */
  const count = (name: string, b: Budget, n: number) => {
    if (b.dropped === 0) {
      b.timer = setTimeout(() => report(name, b), 1000 - (Date.now() % 1000));
      (b.timer as { unref?: () => void }).unref?.();
    }
    b.dropped += n;
  };
  /** Whether a line of `name` may go in the log now (counted as dropped when not). */
  const allowed = (name: string): boolean => {
    const b = budgetOf(name);
    if (++b.lines <= FN_LINES_PER_SECOND) return true;
    warn(name, b);
    count(name, b, 1);
    return false;
  };
  return {
    info: (msg) => host("info", msg),
    warn: (msg) => host("warn", msg),
    error: (msg) => host("error", msg),
    dropped: (name, lines) => {
      // a guest's count (or one a child forged: it says no more than its own function's note)
      // is said at once, the first of a second; more in that second are said with the host's own
      if (!Number.isSafeInteger(lines) || lines < 0) return;
      const b = budgetOf(name);
      if (lines === 0) warn(name, b);
      else if (b.noted) count(name, b, lines);
      else {
        b.noted = true;
        dropNote(name, lines);
      }
    },
    fn: (name, level, line, requestId) => {
      if (!allowed(name)) return;
      // a child's stderr line comes cut already (adapters/lines.ts): cut again, its count would be the note's
      const text =
        line.length > FN_LINE_MAX_CHARS && !CUT_NOTE.test(line.slice(FN_LINE_MAX_CHARS)) ? cutLine(line.slice(0, FN_LINE_MAX_CHARS), line.length - FN_LINE_MAX_CHARS) : line;
      const lvl = LEVEL[level] ?? "info";
      if (format === "json") {
        write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, kind: "function", function: name, ...(requestId ? { requestId } : {}), msg: text })}\n`);
      } else {
        const tag = tint(36, `[${name}${requestId ? ` ${requestId.slice(0, 8)}` : ""}]`);
        const shown = readable(text);
        write(`${when()}${tag} ${lvl === "warn" || lvl === "error" ? tint(lvl === "warn" ? 33 : 31, shown) : shown}\n`);
      }
    },
  };
}

/**
 * A function's text for a person's terminal: its control characters shown as \xNN and its
 * further lines indented. Written as it was, a function (untrusted code, in the process lane)
 * sent escape sequences to the operator's terminal and printed lines that read as the host's own
 * (a forged access line); the JSON log escapes them itself.
 */
function readable(text: string): string {
  return escapeControls(text).replace(/\n/g, "\n  ");
}

/** Control characters but newline and tab, as \xNN. */
export function escapeControls(text: string): string {
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** HH:MM:SS.mmm in local time: a server's log is read next to a wall clock. */
export function clock(d: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/**
 * Lines written once per turn of the event loop instead of one write each: a busy host writes
 * thousands of access-log lines a second, and one write per line costs a syscall each.
 */
export function batchedWriter(write: (text: string) => void, schedule: (fn: () => void) => void): { write(line: string): void; flush(): void } {
  let buffer = "";
  let queued = false;
  const flush = () => {
    queued = false;
    if (buffer === "") return;
    const text = buffer;
    buffer = "";
    write(text);
  };
  return {
    write(line) {
      buffer += line;
      if (!queued) {
        queued = true;
        schedule(flush);
      }
    },
    flush,
  };
}
