/**
 * A version id names one set of files only within one history of a shared store: a store that
 * lost its data (etcd-history.ts) hands out the same ids again for other files. So a release
 * serving or prepared here is reused for a version only when its files are the version's.
 */
import type { Release } from "./release.ts";

/** Two versions' files (path: hash) are the same. */
export function sameFiles(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** The folder (under the run folder) a version is written to: its id, unless a version of that id serves here, whose folder stays. */
export function releaseFolder(serving: Map<string, Release>, id: string): string {
  return serving.has(id) ? `${id}.${crypto.randomUUID().slice(0, 8)}` : id;
}
