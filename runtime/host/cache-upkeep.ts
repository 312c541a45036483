/**
 * The host's side of the cache's trim (runtime/cache-trim.ts): once it serves, it trims the
 * cache in the background (at most once a day per cache folder), and while it runs it notes
 * twice a day that its functions' bundles and Deno homes are in use, so that another host's
 * trim never removes what an instance of this one will start from. It trims again as it notes:
 * every deploy and every `lanes dev` reload compiles new bundles, and a host that trimmed only
 * when it started kept all of them for as long as it ran.
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { noteUse, trimCache } from "../cache-trim.ts";
import type { Logger } from "../log.ts";
import type { Served } from "./served.ts";

const NOTE_EVERY_MS = 12 * 3_600_000;

/** Start both; returns what stops them. `everyMs`: how often it notes and trims (tests shorten it). */
export function keepCache(adapter: RuntimeAdapter, functions: () => Served[], log: Logger, everyMs = NOTE_EVERY_MS): () => void {
  const { sys } = adapter;
  // only a folder that passes the compile cache's own check (ours, not writable by others, no
  // symbolic link): made if it is not there yet, as a first compile would
  const dir = sys.cacheDir();
  const trim = (after: Promise<unknown>) =>
    after
      .then(() => trimCache(sys, dir))
      .then(
        (removed) => removed && log.info(`cache ${dir}: removed ${removed} entries unused for a week`),
        (e: unknown) => log.warn(`cache ${dir}: could not be trimmed: ${e instanceof Error ? e.message : String(e)}`),
      );
  void trim(sys.ensurePrivateDir(dir));
  const timer = setInterval(() => {
    // noted before the trim looks: what this host serves is never what it removes
    void trim(Promise.all(functions().map((f) => f.compiled && noteUse(sys, f.compiled.file).catch(() => {}))));
  }, everyMs);
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}
