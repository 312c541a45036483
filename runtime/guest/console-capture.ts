/**
 * A function's console, and the guest's own log lines, go to the host log tagged with the
 * request they ran for (the request id the host logs in its access line).
 *
 * The host puts at most FN_LINES_PER_SECOND of a function's lines a second in its log, each cut
 * at FN_LINE_MAX_CHARS (../log.ts). The guest keeps to the same budget before a line is even
 * formatted or sent: when the host alone dropped the rest, it still decoded each line first, and
 * a function logging in a loop held another function of the same host at half its rate
 * (../../adapters/README.md, "Console lines kept to their budget in the guest"). What the guest
 * drops it counts: a `dropped` log frame tells the host when it starts to drop a second's lines
 * (text "0"), and another how many it dropped once that second is over, for the host's notes.
 */
import { currentRequestId, formatArgs } from "../../adapters/guest.ts";
import type { LogFrame, LogLevel } from "../channel/frames.ts";
import { cutLine, FN_LINE_MAX_CHARS, FN_LINES_PER_SECOND } from "../log.ts";

/** One function's lines to its host: at most FN_LINES_PER_SECOND a second, the rest counted. */
export class ConsoleBudget {
  private second = 0;
  private lines = 0;
  private dropped = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly post: (f: LogFrame) => void) {}

  /** Whether a line may go to the host now; if not, it is counted. */
  take(): boolean {
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.second) {
      this.report();
      this.second = second;
      this.lines = 0;
    }
    if (++this.lines <= FN_LINES_PER_SECOND) return true;
    // the host says so at once, and how many when the second is over, whether or not the function writes again
    if (this.dropped++ === 0) {
      this.post({ t: "log", level: "dropped", text: "0" });
      this.timer = setTimeout(this.report, 1000 - (Date.now() % 1000));
    }
    return false;
  }

  /** Sends `text` (cut to FN_LINE_MAX_CHARS) if the budget has room for it. */
  line(level: LogLevel, text: () => string, requestId?: string): void {
    if (!this.take()) return;
    const t = text();
    const cut = t.length > FN_LINE_MAX_CHARS ? cutLine(t.slice(0, FN_LINE_MAX_CHARS), t.length - FN_LINE_MAX_CHARS) : t;
    this.post(requestId ? { t: "log", level, text: cut, requestId } : { t: "log", level, text: cut });
  }

  private readonly report = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.dropped === 0) return;
    this.post({ t: "log", level: "dropped", text: String(this.dropped) });
    this.dropped = 0;
  };
}

export function captureConsole(budget: ConsoleBudget): void {
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    console[level] = (...args: unknown[]) => budget.line(level, () => formatArgs(args), currentRequestId());
  }
}
