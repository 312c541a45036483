/**
 * The progress line while a load run goes, on stderr: redrawn in place four times a second on
 * a terminal (and wiped at the end), one plain line a second and one at the end otherwise (a CI log).
 */
import type { Recorder } from "./recorder.ts";

export interface LiveCounts {
  sent(): number;
  inFlight(): number | null;
}

export function startProgress(rec: Recorder, counts: () => LiveCounts | undefined, durationS: number, write: (s: string) => void, tty: boolean): () => void {
  const t0 = performance.now();
  const line = () => {
    const c = counts();
    const s = (performance.now() - t0) / 1000;
    const sent = c?.sent() ?? 0;
    const inFlight = c?.inFlight();
    return [
      `${Math.min(s, durationS).toFixed(1)}/${durationS} s`,
      `${sent} sent (${s > 0 ? Math.round(sent / Math.min(s, durationS)) : 0}/s)`,
      `${rec.answered} answered`,
      `${rec.failed} failed`,
      ...(inFlight === null || inFlight === undefined ? [] : [`${inFlight} in flight`]),
      `p99 ${rec.percentileMs(99).toFixed(1)} ms`,
    ].join(" · ");
  };
  const timer = setInterval(() => write(tty ? `\r\x1b[2K${line()}` : `lanes load: ${line()}\n`), tty ? 250 : 1000);
  return () => {
    clearInterval(timer);
    // a log gets the last figures too, however short the run
    write(tty ? "\r\x1b[2K" : `lanes load: ${line()}\n`);
  };
}
