/** The start-up load check: every function loaded once, after listening, and what cannot start. */
import type { Logger } from "../log.ts";
import type { Served } from "./served.ts";

/**
 * How many functions the load check leaves warm: their instance stays, an idle one like any
 * other (stopped after `instances.idleMs` without a request), so the first request after a start
 * finds it ready, as a deploy leaves its first eight (release.ts). Eight idle instances are at most about 0.4 GB (an idle
 * child takes 46-53 MB, an isolate 7.4-20.6: README, What the lanes cost); the others are stopped
 * once loaded, and a host with hundreds of functions costs no more memory than before.
 */
export const KEPT_WARM = 8;

/**
 * Load every function that has no instance yet (`instances.min` 0) once: a module that throws at
 * import is found at start-up, not by the first client. The first KEPT_WARM functions with an
 * instance of their own keep it; packed ones and the rest are stopped again unless a request
 * came meanwhile, and cost no memory until they are called. It runs after listening and stays
 * cheap with thousands of functions: packed functions load into the shared packed workers (a
 * context each, no thread), two functions at a time with a turn of the event loop between them
 * so requests go first, and a function that a request has loaded meanwhile is skipped. Returns
 * the broken ones.
 */
export async function loadEach(list: Served[], log: Logger): Promise<Served[]> {
  const started = Date.now();
  const todo = list.filter((f) => f.pool && f.pool.live() === 0);
  const count = todo.length;
  let kept = 0;
  const next = async (): Promise<void> => {
    for (let f = todo.shift(); f; f = todo.shift()) {
      const pool = f.pool!;
      if (!pool.empty || pool.handled > 0) continue; // a request loaded it (or is loading it)
      await pool.warm(1);
      if (!f.spec.pack && pool.live() > 0 && kept < KEPT_WARM) kept++;
      else await pool.trim();
      await new Promise((r) => setTimeout(r, 0));
    }
  };
  await Promise.all([next(), next()]);
  const broken = list.filter(isBroken);
  if (count > 0) {
    log.info(`load check: ${count} function(s) loaded once in ${((Date.now() - started) / 1000).toFixed(1)} s, ${kept} kept warm; ${broken.length} cannot start`);
  }
  return broken;
}

/** It cannot serve: it did not compile, or no instance of it has started and the last start failed. */
export function isBroken(f: Served): boolean {
  return f.error !== undefined || (f.pool !== undefined && f.pool.live() === 0 && f.pool.startError !== undefined);
}

export function brokenSummary(broken: Served[], total: number): string {
  return `${broken.length} of ${total} function(s) cannot start: ${broken.map((f) => f.spec.name).join(", ")} (the errors are above)`;
}
