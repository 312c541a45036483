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
 *
 * A blob gets its name once it has passed its trial, and the name holds the binary's identity
 * (path, size, modification time): a later host finds it ready at once, without a trial of its
 * own, and restores its first child from it, while a node binary replaced in place gets a blob
 * of its own. (Each host ran the trial before: a Node process of ~0.2 s of CPU per host start,
 * and its first children started from the bundle meanwhile: README.md in this folder, Startup
 * snapshots.)
 */
import { spawn } from "node:child_process";
import { existsSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { madeInBackground } from "./cache-entry.ts";
import { onPath } from "./on-path.ts";

const TRIAL_MS = 10_000;

/**
 * The snapshot blob for children of `binary` with `heapMb`, once one is ready; undefined until
 * then (the first call starts building it), and where the binary cannot be found.
 */
export function snapshotBlob(entry: string, binary: string, heapMb: number, cacheDir: string): string | undefined {
  const blob = blobPath(entry, binary, heapMb, cacheDir);
  if (blob === undefined) return undefined;
  return madeInBackground(
    `snapshot\0${blob}`,
    () => prepare(entry, binary, heapMb, blob),
    () => (existsSync(blob) ? blob : undefined),
  );
}

/** Names worked out in this process: one look at the binary per entry, binary and heap size. */
const paths = new Map<string, string | undefined>();

function blobPath(entry: string, binary: string, heapMb: number, cacheDir: string): string | undefined {
  const key = `${entry}\0${binary}\0${heapMb}\0${cacheDir}`;
  if (!paths.has(key)) {
    const found = binaryStat(binary);
    // beside the guest's bundles: a sandboxed child sees the cache folder as the files mounted in it, named guest-child-*
    const name = found && createHash("sha256").update(`${entry}\0${found.path}\0${found.size}\0${found.mtimeMs}`).digest("hex").slice(0, 16);
    paths.set(key, name && join(cacheDir, `guest-child-snapshot-${name}-${heapMb}.blob`));
  }
  return paths.get(key);
}

/** The binary's file: a path as it is, a bare name where PATH finds it. */
function binaryStat(binary: string): { path: string; size: number; mtimeMs: number } | undefined {
  const path = binary.includes("/") ? binary : onPath(binary);
  const s = path === undefined ? undefined : statSync(path, { throwIfNoEntry: false });
  return path && s?.isFile() ? { path, size: s.size, mtimeMs: s.mtimeMs } : undefined;
}

async function prepare(entry: string, binary: string, heapMb: number, blob: string): Promise<string> {
  if (existsSync(blob)) return blob; // named once it passed its trial
  const flags = [`--max-old-space-size=${heapMb}`, "--no-warnings"];
  const building = `${blob}.${process.pid}.tmp`;
  try {
    await run(binary, [...flags, "--snapshot-blob", building, "--build-snapshot", entry]);
    await run(binary, [...flags, "--snapshot-blob", building]); // restored, it sees its stdin closed and exits 0
    renameSync(building, blob);
  } finally {
    rmSync(building, { force: true });
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
