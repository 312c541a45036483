/**
 * Turns a stream of byte chunks into complete lines (for a child's stdout/stderr). A line longer
 * than `maxChars` is passed on cut, with a note of it, and the rest of it is skipped: a child that
 * writes without a newline would otherwise grow the host's buffer without end (64 MiB with no
 * newline held the host at a full core for 16 s, each chunk searching all that came before).
 */
import { cutLine, FN_LINE_MAX_CHARS } from "../runtime/log.ts";

export const MAX_LINE_CHARS = FN_LINE_MAX_CHARS;

export function lineSplitter(onLine: (line: string) => void, maxChars = MAX_LINE_CHARS): (chunk: Uint8Array) => void {
  const decoder = new TextDecoder();
  let rest = "";
  let skipped = 0; // characters of a cut line not passed on, until its newline
  return (chunk) => {
    const text = decoder.decode(chunk, { stream: true });
    let from = 0;
    let nl: number;
    // only the new text is searched: what is in `rest` holds no newline
    while ((nl = text.indexOf("\n", from)) >= 0) {
      const piece = text.slice(from, nl);
      if (skipped > 0) onLine(cutLine(rest, skipped + piece.length));
      else if (rest.length + piece.length > maxChars) onLine(cutLine((rest + piece).slice(0, maxChars), rest.length + piece.length - maxChars));
      else onLine(rest + piece);
      rest = "";
      skipped = 0;
      from = nl + 1;
    }
    const tail = text.slice(from);
    if (skipped > 0) skipped += tail.length;
    else if (rest.length + tail.length > maxChars) {
      const whole = rest + tail;
      rest = whole.slice(0, maxChars);
      skipped = whole.length - maxChars;
    } else rest += tail;
  };
}
