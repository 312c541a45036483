/**
 * The host's side of the cache's trim (runtime/cache-trim.ts): once it serves, it trims the
 * cache in the background (at most once a day per cache folder), and while it runs it notes
 * twice a day that its functions' bundles and Deno homes are in use, so that another host's
 * trim never removes what an instance of this one will start from.
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { noteUse, trimCache } from "../cache-trim.ts";
import type { Logger } from "../log.ts";
import type { Served } from "./served.ts";

const NOTE_EVERY_MS = 12 * 3_600_000;

/** Start both; returns what stops the notes. */
export function keepCache(adapter: RuntimeAdapter, functions: () => Served[], log: Logger): () => void {
  const { sys } = adapter;
  // only a folder that passes the compile cache's own check (ours, not writable by others, no
  // symbolic link): made if it is not there yet, as a first compile would
  const dir = sys.cacheDir();
  sys
    .ensurePrivateDir(dir)
    .then(() => trimCache(sys, dir))
    .then(
      (removed) => removed && log.info(`cache ${dir}: removed ${removed} entries unused for a week`),
      (e: unknown) => log.warn(`cache ${dir}: could not be trimmed: ${e instanceof Error ? e.message : String(e)}`),
    );
  const timer = setInterval(() => {
    for (const f of functions()) {
      if (f.compiled) void noteUse(sys, f.compiled.file);
    }
  }, NOTE_EVERY_MS);
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}
