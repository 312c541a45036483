/**
 * Remembers what each bundle was built from, so a host that starts again (or a function built
 * again) reuses its bundle without running esbuild: a bundle is reused while every file that
 * went into it has the same stamp (size, modification time, inode) and the bundle itself still
 * hashes to its name. One small JSON record per entry, label and format, in the private cache.
 */
import { version as esbuildVersion } from "esbuild";
import type { Sys } from "../adapters/types.ts";
import type { Compiled } from "./compile.ts";

/** Bump when the build options change: older records are then ignored. */
const RECORD_VERSION = 1;

interface Record {
  file: string;
  hash: string;
  /** The user's own source files (what `lanes dev` watches). */
  inputs: string[];
  /** Every file that went in (dependencies too): its stamp when the bundle was built. */
  stamps: { [path: string]: string };
}

export function recordFile(sys: Sys, dir: string, entry: string, label: string, format: string): string {
  const key = sys.sha256(`${RECORD_VERSION}\0${esbuildVersion}\0${format}\0${label}\0${entry}`).slice(0, 24);
  return sys.join(dir, "builds", `${key}.json`);
}

/** The bundle built from these files before, if nothing that went into it changed since. */
export async function reuseBuild(sys: Sys, record: string): Promise<Compiled | undefined> {
  let r: Record;
  try {
    r = JSON.parse(await sys.readText(record)) as Record;
  } catch {
    return undefined;
  }
  if (typeof r.file !== "string" || typeof r.hash !== "string" || !r.stamps || !Array.isArray(r.inputs)) return undefined;
  const paths = Object.keys(r.stamps);
  const stamps = await Promise.all(paths.map((p) => sys.stamp(p)));
  if (stamps.some((s, i) => s === undefined || s !== r.stamps[paths[i]!])) return undefined;
  // the bundle must still be exactly what the build wrote (a planted or damaged file is rebuilt)
  const text = await sys.readText(r.file).catch(() => undefined);
  if (text === undefined || sys.sha256(text).slice(0, 12) !== r.hash) return undefined;
  return { file: r.file, hash: r.hash, inputs: r.inputs, sources: paths };
}

/** Note what `compiled` was built from (`all`: every input, dependencies included). */
export async function rememberBuild(sys: Sys, record: string, compiled: Compiled, all: string[]): Promise<void> {
  const stamps: { [path: string]: string } = {};
  for (const p of all) {
    const s = await sys.stamp(p);
    if (s === undefined) return; // a generated or vanished input: nothing to check it by next time
    stamps[p] = s;
  }
  await sys.mkdirp(sys.dirname(record));
  const r: Record = { file: compiled.file, hash: compiled.hash, inputs: compiled.inputs, stamps };
  await sys.writeText(record, JSON.stringify(r));
}
