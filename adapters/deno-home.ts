/**
 * The home of sandboxed Deno children: one folder per guest bundle and deno binary, mounted
 * read-only in every sandbox at the home its passwd names. Deno keeps its caches there (V8's code
 * cache above all): a child whose home holds the guest's code cache starts about 50 ms sooner
 * than one with an empty home (README.md in this folder, Sandbox). The host warms it itself, in the
 * background, by running the guest bundle twice with the folder as HOME and its stdin closed (the
 * guest then exits 0; Deno stores the code cache on the second run); no function's code ever runs
 * with it writable. So every Deno child, a spare or a function's first, starts warm, and no child
 * can leave anything there for another function's child to load. Until it is ready, and if
 * warming fails, children get an empty read-only home and start cold. Its use is noted, and one
 * a cache trim removed is warmed again (cache-entry.ts).
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, lstatSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { madeInBackground } from "./cache-entry.ts";
import { mkdirInsidePrivate } from "./private-dir.ts";

const WARM_MS = 20_000;

/** The home for a sandboxed Deno child of `binary` running `entry` (the guest bundle). */
export function denoHome(entry: string, binary: string, cacheDir: string): string {
  // the folder is worked out only when this process first looks (not at each child start);
  // one an earlier host warmed serves this host's first child too
  const warmed = madeInBackground(
    `deno-home\0${entry}\0${binary}\0${cacheDir}`,
    () => warm(entry, binary, cacheDir, homeOf(entry, binary, cacheDir)),
    () => isWarm(homeOf(entry, binary, cacheDir)),
  );
  return warmed ?? privateFolder(cacheDir, "deno-empty");
}

function homeOf(entry: string, binary: string, cacheDir: string): string {
  const name = createHash("sha256").update(`${entry}\0${binary}`).digest("hex").slice(0, 16);
  return join(cacheDir, "homes", `deno-${name}`);
}

const isWarm = (home: string): string | undefined => (statSync(home, { throwIfNoEntry: false })?.isDirectory() ? home : undefined);

/**
 * `cacheDir/homes/name`, made as needed, the cache folder private: a recursive mkdir gives the
 * folders above the last the default mode on Deno, and one removed under the host is made here.
 */
function privateFolder(cacheDir: string, name: string): string {
  const folder = join(cacheDir, "homes", name);
  mkdirInsidePrivate(cacheDir, folder, 0o700);
  return folder;
}

async function warm(entry: string, binary: string, cacheDir: string, home: string): Promise<string> {
  if (isWarm(home)) return home;
  const warming = `${home}.${process.pid}.tmp`;
  try {
    rmSync(warming, { recursive: true, force: true });
    privateFolder(cacheDir, `${basename(home)}.${process.pid}.tmp`);
    const cache = statSync(cacheDir).ino;
    try {
      for (let i = 0; i < 2; i++) await run(binary, entry, warming);
    } finally {
      keepPrivate(cacheDir, cache);
    }
    renameSync(warming, home);
  } catch (e) {
    // another host renamed its own first: that one is as good
    if (!statSync(home, { throwIfNoEntry: false })?.isDirectory()) throw e;
  } finally {
    rmSync(warming, { recursive: true, force: true });
  }
  return home;
}

/**
 * Deno makes its cache folder with every folder above it: when the cache folder was removed
 * while it warmed, Deno made it again, readable by all. Made again during the warming (another
 * inode), it is made private as the host would have made it.
 */
function keepPrivate(cacheDir: string, ino: number): void {
  const now = lstatSync(cacheDir, { throwIfNoEntry: false });
  if (now?.isDirectory() && now.ino !== ino && (now.mode & 0o077) !== 0) chmodSync(cacheDir, 0o700);
}

/** The guest as a child runs it, with nothing granted but its own file; it exits 0 once its stdin closes. */
function run(binary: string, entry: string, home: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = ["run", "--quiet", "--no-prompt", "--no-config", "--no-lock", `--allow-read=${entry}`, "--allow-env", entry];
    const child = spawn(binary, args, { stdio: ["pipe", "ignore", "ignore"], env: { HOME: home, PATH: process.env.PATH ?? "" } });
    const timer = setTimeout(() => child.kill("SIGKILL"), WARM_MS);
    child.stdin.on("error", () => {}); // it may exit before the pipe is closed
    child.stdin.end();
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${binary} ${args.join(" ")}: code ${code}, signal ${signal}`));
    });
  });
}
