/**
 * The progress line while a bench runs: a bar over all cells, the current cell and phase,
 * elapsed time. On a terminal it redraws one line; otherwise it prints a line per finished cell.
 */
export interface Progress {
  cell(label: string): void;
  phase(text: string): void;
  done(summary: string): void;
  finish(): void;
}

const WIDTH = 24;

export function progress(total: number, write: (s: string) => void, tty: boolean): Progress {
  const t0 = Date.now();
  let finished = 0;
  let label = "";
  let phaseText = "";
  const elapsed = () => {
    const s = Math.round((Date.now() - t0) / 1000);
    return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  };
  const draw = () => {
    if (!tty) return;
    const full = Math.round((finished / total) * WIDTH);
    const bar = "█".repeat(full) + "░".repeat(WIDTH - full);
    write(`\r\x1b[2K${bar} ${finished}/${total}  ${label}  ${phaseText}  ${elapsed()}`);
  };
  return {
    cell(l) {
      label = l;
      phaseText = "";
      draw();
    },
    phase(p) {
      phaseText = p;
      draw();
    },
    done(summary) {
      finished++;
      if (!tty) write(`[${finished}/${total}] ${label}: ${summary} (${elapsed()})\n`);
      draw();
    },
    finish() {
      if (tty) write(`\r\x1b[2K${finished}/${total} cells in ${elapsed()}\n`);
    },
  };
}
