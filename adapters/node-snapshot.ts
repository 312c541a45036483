/**
 * Startup snapshots for Node process-lane children. A child restored from a snapshot of the
 * guest has its code loaded already: it is ready in about 69 ms instead of 120 (spawn to its
 * first frame, loadtest/README.md, Density: startup snapshots). A blob only loads under the V8
 * flags it was built with, so there is one per heap size (`--max-old-space-size`), built in the
 * background the first time a child of that size starts and kept in the cache folder. Until a
 * blob is built and has passed a trial run (a restored child that starts and exits cleanly when
 * its stdin closes), children start from the guest's bundle as before; a blob that fails its
 * trial is never used. A blob notes its use in its modification time (at most hourly), and one
 * a cache trim removed (unused for a week: runtime/cache-trim.ts) is built again at the next start.
 */
import { spawn } from "node:child_process";
import { existsSync, renameSync, rmSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";

const TRIAL_MS = 10_000;
/** A blob in use has its modification time set to now once it is older than this (as runtime/cache-trim.ts notes a use). */
const NOTE_EVERY_MS = 3_600_000;

type State = { blob: string } | "building" | "unusable";
const blobs = new Map<string, State>();

/**
 * The snapshot blob for children of `binary` with `heapMb`, once one is ready; undefined until
 * then (the first call starts building it).
 */
export function snapshotBlob(entry: string, binary: string, heapMb: number, cacheDir: string): string | undefined {
  const key = `${entry}\0${binary}\0${heapMb}`;
  const state = blobs.get(key);
  if (typeof state === "object") {
    // one stat a start, a write an hour at most: a child starts in about 70 ms
    const modified = statSync(state.blob, { throwIfNoEntry: false })?.mtimeMs;
    if (modified === undefined) {
      blobs.delete(key); // removed by a trim (or by hand): built again, and meanwhile not used
      return snapshotBlob(entry, binary, heapMb, cacheDir);
    }
    if (Date.now() - modified > NOTE_EVERY_MS) noteUse(state.blob);
    return state.blob;
  }
  if (state === undefined) {
    blobs.set(key, "building");
    void prepare(entry, binary, heapMb, cacheDir).then(
      (blob) => blobs.set(key, { blob }),
      () => blobs.set(key, "unusable"),
    );
  }
  return undefined;
}

function noteUse(blob: string): void {
  try {
    const now = Date.now() / 1000;
    utimesSync(blob, now, now);
  } catch {
    // gone between the look and the write: the next start finds it missing
  }
}

async function prepare(entry: string, binary: string, heapMb: number, cacheDir: string): Promise<string> {
  const flags = [`--max-old-space-size=${heapMb}`, "--no-warnings"];
  const name = createHash("sha256").update(`${entry}\0${binary}`).digest("hex").slice(0, 16);
  // beside the guest's bundles: a sandboxed child sees the cache folder as the files mounted in it, named guest-child-*
  const blob = join(cacheDir, `guest-child-snapshot-${name}-${heapMb}.blob`);
  if (!existsSync(blob)) {
    const building = `${blob}.${process.pid}.tmp`;
    try {
      await run(binary, [...flags, "--snapshot-blob", building, "--build-snapshot", entry]);
      renameSync(building, blob);
    } finally {
      rmSync(building, { force: true });
    }
  }
  try {
    await run(binary, [...flags, "--snapshot-blob", blob]); // restored, it sees its stdin closed and exits 0
  } catch (e) {
    rmSync(blob, { force: true }); // built by another Node, or damaged: build it again next time
    throw e;
  }
  return blob;
}

function run(binary: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ["ignore", "ignore", "ignore"], env: {} });
    const timer = setTimeout(() => child.kill("SIGKILL"), TRIAL_MS);
    child.once("error", (e) => (clearTimeout(timer), reject(e)));
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${binary} ${args.join(" ")}: code ${code}, signal ${signal}`));
    });
  });
}
