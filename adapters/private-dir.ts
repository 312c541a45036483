/**
 * A folder only this user can write to: where lanes keeps compiled functions and the sandbox's
 * support files. A folder someone else can write to (a shared `/tmp/lanes-cache`, say) would let
 * them plant code that the host then runs as a function.
 */
import { chmodSync, lstatSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import * as path from "node:path";

/** `LANES_CACHE_DIR`, or `~/.cache/lanes`: never a predictable folder shared by all users. */
export function defaultCacheDir(): string {
  const override = process.env.LANES_CACHE_DIR;
  if (override) return path.resolve(override);
  return path.join(process.env.HOME || homedir(), ".cache", "lanes");
}

const checked = new Set<string>();

/**
 * See Sys.ensurePrivateDir. Synchronous. It checks once per folder and process, then looks only
 * whether the folder is still there, and makes it again, private, if it is gone (removed by hand
 * under a running host): callers call it before they make anything under it.
 */
export function ensurePrivateDirSync(dir: string): void {
  if (checked.has(dir) && lstatOrNull(dir)) return;
  const fix = `(set LANES_CACHE_DIR to a folder of your own, or fix it: chmod 700 ${dir})`;
  let info = lstatOrNull(dir);
  if (!info) {
    mkdirSync(path.dirname(dir), { recursive: true });
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as { code?: string }).code !== "EEXIST") throw e;
    }
    info = lstatOrNull(dir);
    // the mode given to mkdir is filtered by the umask: set it exactly
    if (info?.isDirectory() && info.uid === process.getuid?.() && (info.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
    info = lstatOrNull(dir);
  }
  if (!info) throw new Error(`compile cache ${dir}: could not be created`);
  if (info.isSymbolicLink()) throw new Error(`compile cache ${dir}: is a symbolic link; lanes uses only a real folder of its own ${fix}`);
  if (!info.isDirectory()) throw new Error(`compile cache ${dir}: is not a folder ${fix}`);
  const me = process.getuid?.();
  if (me !== undefined && info.uid !== me) {
    throw new Error(`compile cache ${dir}: is owned by uid ${info.uid}, not by this user (uid ${me}): its owner could plant code that lanes would run ${fix}`);
  }
  if ((info.mode & 0o022) !== 0) {
    const who = (info.mode & 0o002) !== 0 ? "everyone" : "its group";
    throw new Error(`compile cache ${dir}: can be written by ${who} (mode ${(info.mode & 0o777).toString(8)}), who could plant code that lanes would run ${fix}`);
  }
  checked.add(dir);
}

function lstatOrNull(p: string) {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}
