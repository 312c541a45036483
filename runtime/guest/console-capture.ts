/**
 * A function's console, and the guest's own log lines, go to the host log tagged with the
 * request they ran for (the request id the host logs in its access line).
 */
import { currentRequestId, formatArgs } from "../../adapters/guest.ts";
import type { LogFrame } from "../channel/frames.ts";

/** The id of the request whose code runs now, if any, as a log frame's field. */
export function rid(): { requestId?: string } {
  const id = currentRequestId();
  return id ? { requestId: id } : {};
}

export function captureConsole(post: (f: LogFrame) => void): void {
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    console[level] = (...args: unknown[]) => post({ t: "log", level, text: formatArgs(args), ...rid() });
  }
}
