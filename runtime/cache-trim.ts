/**
 * The private cache (`Sys.cacheDir`) gets a bundle and a build record for every folder a
 * function is compiled from: each deploy's release, each new folder (and, before one warm home
 * served every Deno child, a home of about 3 MB for each). Nothing took them away: a machine
 * that ran this repo's tests some sixty times held 81,000 entries, 9.4 GB. As Go's build
 * cache does (https://pkg.go.dev/cmd/go#hdr-Build_and_test_caching), an entry notes when it is
 * used (its modification time, at most once an hour), and a host removes those unused for
 * UNUSED_MS when it starts and again while it runs, at most once a day per cache folder. A
 * running host notes its own entries' use twice a day (cache-upkeep in host/), so a long-lived
 * instance never loses its bundle.
 */
import type { Sys } from "../adapters/types.ts";

const HOUR = 3_600_000;
/** An entry unused this long is removed. */
export const UNUSED_MS = 7 * 24 * HOUR;
/** At most one trim per cache folder in this time (the stamp file's age). */
const TRIM_EVERY_MS = 24 * HOUR;
/** A use is noted only when the last one is older than this: a write per entry and hour at most. */
const NOTE_EVERY_MS = HOUR;
const STAMP = "trimmed";

/**
 * What a trim may remove, by folder: names lanes itself gives, nothing else in the cache, each
 * once unused for UNUSED_MS or, where given, as long as that.
 */
const ENTRIES: [folder: string, name: RegExp, unusedMs?: number][] = [
  ["bundles/*", /^[A-Za-z0-9_-]+-[0-9a-f]{12}\.(?:mjs|cjs)$/], // bundles (compile.ts, bundleShard)
  ["", /^[A-Za-z0-9_-]+-[0-9a-f]{12}\.(?:mjs|cjs)$/], // bundles of lanes before they had folders
  ["builds", /^[0-9a-f]{24}\.json$/], // build records (compile-cache.ts)
  // Deno children's warm home (adapters/deno-home.ts), what a host that died while warming one
  // left, and the homes of functions and spares of lanes before it
  ["homes", /^(?:spare-|deno-)?[0-9a-f]{16}$/],
  ["homes", /^deno-[0-9a-f]{16}\.\d+\.tmp$/, 24 * HOUR],
  // Node children's startup snapshots, 4.7 MB each, one per lanes version and heap size
  // (adapters/node-snapshot.ts), and what a host that died while building one left (a build
  // takes seconds: a day-old one is nobody's)
  ["", /^guest-child-snapshot-[0-9a-f]{16}-\d+\.blob$/],
  ["", /^guest-child-snapshot-[0-9a-f]{16}-\d+\.blob\.\d+\.tmp$/, 24 * HOUR],
];

/** Note that `path` (a bundle, a build record, a home) is in use: it is kept for UNUSED_MS from now. */
export async function noteUse(sys: Sys, path: string, now = Date.now()): Promise<void> {
  const at = await sys.modifiedAt(path);
  if (at !== undefined && now - at > NOTE_EVERY_MS) await sys.touch(path);
}

/**
 * Remove the entries of the cache folder `dir` unused for UNUSED_MS, unless a trim ran there in
 * the last day. Resolves with how many were removed (undefined: not this time).
 */
export async function trimCache(sys: Sys, dir: string, now = Date.now()): Promise<number | undefined> {
  const stamp = sys.join(dir, STAMP);
  const last = await sys.modifiedAt(stamp);
  if (last !== undefined && now - last < TRIM_EVERY_MS) return undefined;
  // before the scan: hosts started together do not all trim
  await sys.writeText(stamp, `${new Date(now).toISOString()}\n`);
  let removed = 0;
  for (const [folder, name, unusedMs = UNUSED_MS] of ENTRIES) {
    for (const where of await folders(sys, dir, folder)) {
      for (const entry of await sys.list(where)) {
        if (!name.test(entry)) continue;
        const path = sys.join(where, entry);
        const at = await sys.modifiedAt(path);
        if (at === undefined || now - at < unusedMs) continue;
        await sys.remove(path);
        removed++;
      }
    }
  }
  return removed;
}

/** The folders `folder` names: `a/*` is each two-hex-digit folder in `a` (compile.ts, bundleShard). */
async function folders(sys: Sys, dir: string, folder: string): Promise<string[]> {
  if (!folder) return [dir];
  if (!folder.endsWith("/*")) return [sys.join(dir, folder)];
  const parent = sys.join(dir, folder.slice(0, -2));
  return (await sys.list(parent)).filter((n) => /^[0-9a-f]{2}$/.test(n)).map((n) => sys.join(parent, n));
}
