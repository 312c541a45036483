/**
 * What an inspected child (`lanes dev --inspect`) prints about its inspector on stderr: node and
 * deno one line with the WebSocket URL, bun a box around it. The URL becomes lanes' own lines,
 * with what to open; the runtime's banner is left out of the function's log.
 */
import type { RuntimeName } from "../../adapters/types.ts";

export interface InspectorLine {
  /** The inspector's WebSocket URL, when this line gives it. */
  url?: string;
  /** The runtime's own banner around it: left out of the function's log. */
  banner: boolean;
}

/** Reads a child's stderr line for its inspector's URL (node and deno print one line, bun a box). */
export function inspectorLine(line: string): InspectorLine {
  const url = /^\s*(?:Debugger listening on )?(ws:\/\/127\.0\.0\.1:\d+\/\S+)\s*$/.exec(line)?.[1];
  if (url) return { url, banner: true };
  const banner =
    /^-+ Bun Inspector -+$|^(Listening|Inspect in browser):$|^\s*https:\/\/debug\.bun\.sh\/#\S+$/.test(line) ||
    /^For help, see: https:\/\/nodejs\.org\/\S*inspector|^Visit chrome:\/\/inspect to connect to the debugger\.$/.test(line);
  return { banner };
}

/** The lines `lanes dev` prints for an inspector that started: the URL, and what to open. */
export function inspectorBanner(name: string, runtime: RuntimeName, url: string): string[] {
  const hostPath = url.slice("ws://".length);
  const open =
    runtime === "bun"
      ? `open https://debug.bun.sh/#${hostPath} (Bun speaks WebKit's inspector protocol: Bun's debugger, or VS Code's Bun extension)`
      : `open devtools://devtools/bundled/js_app.html?ws=${hostPath} in Chrome, or attach VS Code to port ${new URL(url).port}`;
  return [`debugger for ${name}: ${url}`, `  ${open}; set breakpoints in your .ts files (source-mapped)`];
}
