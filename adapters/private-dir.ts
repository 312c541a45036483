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

/**
 * Each folder checked, by its inode and mode then: one made again since is checked again. The
 * mode too, since a folder removed and made again at once often gets the same inode back.
 */
const checked = new Map<string, string>();
const seen = (info: { ino: number; mode: number }) => `${info.ino}:${info.mode}`;

/**
 * See Sys.ensurePrivateDir. Synchronous. It checks once per folder and process, then looks only
 * whether the folder is still the one it checked (inode and mode), and makes it again, private,
 * if it is gone (removed by hand under a running host). Callers call it before they make
 * anything under it, and `Sys.mkdirp` again after it makes a folder inside the cache folder: a
 * recursive mkdir that ran just after the removal made it again with the default mode
 * (readable by all). A folder made again since it was checked is made private whatever mode it
 * was made with; one of the user's own, met first, keeps its mode unless others can write to it.
 */
export function ensurePrivateDirSync(dir: string): void {
  let info = lstatOrNull(dir);
  if (info && checked.get(dir) === seen(info)) return;
  const fix = `(set LANES_CACHE_DIR to a folder of your own, or fix it: chmod 700 ${dir})`;
  const me = process.getuid?.();
  // made again since it was checked (a folder of the user's own, met first, keeps its mode)
  let ours = checked.has(dir);
  if (!info) {
    mkdirSync(path.dirname(dir), { recursive: true });
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as { code?: string }).code !== "EEXIST") throw e;
    }
    info = lstatOrNull(dir);
    ours = true;
  }
  // the mode given to mkdir is filtered by the umask, and a recursive mkdir gives the default one
  if (ours && info?.isDirectory() && info.uid === me && (info.mode & 0o777) !== 0o700) {
    chmodSync(dir, 0o700);
    info = lstatOrNull(dir);
  }
  if (!info) throw new Error(`compile cache ${dir}: could not be created`);
  if (info.isSymbolicLink()) throw new Error(`compile cache ${dir}: is a symbolic link; lanes uses only a real folder of its own ${fix}`);
  if (!info.isDirectory()) throw new Error(`compile cache ${dir}: is not a folder ${fix}`);
  if (me !== undefined && info.uid !== me) {
    throw new Error(`compile cache ${dir}: is owned by uid ${info.uid}, not by this user (uid ${me}): its owner could plant code that lanes would run ${fix}`);
  }
  if ((info.mode & 0o022) !== 0) {
    const who = (info.mode & 0o002) !== 0 ? "everyone" : "its group";
    throw new Error(`compile cache ${dir}: can be written by ${who} (mode ${(info.mode & 0o777).toString(8)}), who could plant code that lanes would run ${fix}`);
  }
  checked.set(dir, seen(info));
}

/**
 * Makes `folder` and those above it, inside the private folder `dir`, which stays private: a
 * recursive mkdir that ran just after someone removed `dir` made it again with the default mode
 * (readable by all), so `dir` is checked before and after (ensurePrivateDirSync).
 */
export function mkdirInsidePrivate(dir: string, folder: string, mode?: number): void {
  ensurePrivateDirSync(dir);
  mkdirSync(folder, { recursive: true, ...(mode === undefined ? {} : { mode }) });
  ensurePrivateDirSync(dir);
}

function lstatOrNull(p: string) {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}
