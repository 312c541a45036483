/**
 * Startup snapshots for Node process-lane children. A child restored from a snapshot of the
 * guest has its code loaded already: it is ready in about 69 ms instead of 120 (spawn to its
 * first frame, ../loadtest/README.md, Density: startup snapshots). A blob only loads under the V8
 * flags it was built with, so there is one per heap size (`--max-old-space-size`), built in the
 * background the first time a child of that size starts and kept in the cache folder. Until a
 * blob is built and has passed a trial run (a restored child that starts and exits cleanly when
 * its stdin closes), children start from the guest's bundle as before; a blob that fails its
 * trial is never used. A blob notes its use, and one a cache trim removed (unused for a week:
 * runtime/cache-trim.ts) is built again at the next start (cache-entry.ts).
 */
import { spawn } from "node:child_process";
import { existsSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { madeInBackground } from "./cache-entry.ts";

const TRIAL_MS = 10_000;

/**
 * The snapshot blob for children of `binary` with `heapMb`, once one is ready; undefined until
 * then (the first call starts building it).
 */
export function snapshotBlob(entry: string, binary: string, heapMb: number, cacheDir: string): string | undefined {
  return madeInBackground(`snapshot\0${entry}\0${binary}\0${heapMb}\0${cacheDir}`, () => prepare(entry, binary, heapMb, cacheDir));
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
