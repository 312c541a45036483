/**
 * Retention: a store keeps the newest `--keep-versions` versions (DEFAULT_KEEP_VERSIONS unless
 * told), and every version a deployment still needs, whatever its age: the active one (both
 * sides of a gradual deployment), the one `lanes rollback` without a version goes back to, and
 * on a shared store the ones each live host says it serves. The rest are removed after a
 * deploy, in the deploy's turn (Deployer.deploy), with the deployments past the newest
 * HISTORY_KEPT, then the blobs no kept version names; on etcd its history is compacted after, so
 * the space they took is used again.
 *
 * A sweep runs while another host of the same etcd may be uploading a version whose blobs are
 * written and its record not yet: every upload first says which blobs it is writing (`hold`),
 * and a sweep keeps those; one that starts after the sweep read the holds makes its deletes
 * fail (etcd-sweep.ts), so the sweep stops there and the next one finishes the job.
 *
 * It also runs while another host may switch, to a version past the limit (a rollback): the
 * removal holds only while the deployment it read is still the active one (on etcd a transaction
 * compares the key's revision), else the prune reads again; and a switch names only versions
 * kept when it is made (its transaction compares theirs), so one that comes after the removal is
 * refused (404) and changes nothing. Either way no active deployment names a removed version.
 */
import { HISTORY_KEPT, previousVersion, versionNumber, versionsOf, type Deployment, type VersionRecord } from "./model.ts";
import { isClusterStore, type DeployStore } from "./store.ts";
import { LanesError } from "../errors.ts";

export const DEFAULT_KEEP_VERSIONS = 100;
export const MAX_KEEP_VERSIONS = 1_000_000;

export interface StoreRetention {
  /** An upload of version `id` writing these blobs is under way: sweeps keep them until `release`. */
  hold(id: string, hashes: string[]): Promise<void>;
  release(id: string): Promise<void>;
  /** The ids of the uploads under way (`hold` without `release` yet): a deploy's is its version's. */
  held(): Promise<string[]>;
  /** Remove a version's record (its blobs stay until a sweep finds no kept version names them). */
  removeVersion(id: string): Promise<void>;
  /**
   * Remove the records of `versions` (in that order) and the deployments older than revision
   * `before` (0: none), only while `active` is still the active deployment: false, and nothing
   * more removed, once another switch came first (it may need what was to go).
   */
  removeOld(active: Deployment, versions: string[], before: number): Promise<boolean>;
  /** Remove the blobs no version and no upload under way names; etcd: then compact its history. */
  sweep(): Promise<SweepResult>;
}

export interface SweepResult {
  /** Blobs removed (etcd: their chunks too, not counted), and their bytes. */
  removed: number;
  bytes: number;
  /** etcd: the revision its history was compacted to. */
  compactedTo?: number;
  /** Why the sweep stopped before the end (an upload began meanwhile): the next one goes on. */
  stopped?: string;
}

export interface PruneResult extends SweepResult {
  /** The versions removed, newest first. */
  versions: string[];
  kept: number;
  /** The deployments older than this revision were removed (HISTORY_KEPT). */
  historyBefore?: number;
}

/**
 * The versions a deployment needs now, or may in a moment: never removed, whatever
 * `--keep-versions` says. Read after the versions it is applied to: a deploy holds its upload
 * before it writes its version, so the one of a deploy under way is seen here and kept (its
 * switch would find it gone and answer 404 instead of winning, or of the 409 it gets when
 * another deploy came first).
 */
export async function versionsInUse(store: DeployStore, active: Deployment): Promise<Set<string>> {
  const used = new Set([...versionsOf(active), ...(await store.retention.held())]);
  const back = previousVersion(active, await store.history());
  if (back) used.add(back);
  if (isClusterStore(store)) {
    // a host that has not followed yet (or could not load the newest) serves an older one
    for (const h of await store.hosts()) for (const m of h.serving.matchAll(/\bv[1-9][0-9]*\b/g)) used.add(m[0]);
  }
  return used;
}

/** Of `versions`, the ones past the newest `keep` that no deployment uses, newest first. */
export function versionsToRemove(versions: VersionRecord[], used: Set<string>, keep: number): string[] {
  const newestFirst = [...versions].sort((a, b) => versionNumber(b.id) - versionNumber(a.id));
  return newestFirst.slice(keep).flatMap((v) => (used.has(v.id) ? [] : [v.id]));
}

/** How often a prune reads the store again when a switch on another host came between its reads and its removal. */
const PRUNE_ATTEMPTS = 3;

/**
 * Remove what `keep` says is no longer kept, and the deployments past the newest HISTORY_KEPT,
 * then sweep. `active` is the deployment this host made or started on; on a shared store another
 * host may have replaced it since, or replace it while this runs (a rollback to a version past
 * the limit): the removal holds only while the deployment read here is still active, and is
 * worked out again otherwise, so a switch never names a version this removed.
 */
export async function prune(store: DeployStore, active: Deployment, keep: number): Promise<PruneResult> {
  let kept = 0;
  for (let attempt = 1; attempt <= PRUNE_ATTEMPTS; attempt++) {
    const versions = await store.listVersions();
    kept = versions.length;
    const now = await store.active();
    // a store that lost its active deployment (etcd wiped): nothing to go by, nothing removed
    if (!now) return { removed: 0, bytes: 0, versions: [], kept };
    const used = await versionsInUse(store, active);
    if (JSON.stringify(now) !== JSON.stringify(active)) for (const id of await versionsInUse(store, now)) used.add(id);
    const remove = versionsToRemove(versions, used, keep);
    const before = historyCut(await store.history(HISTORY_KEPT + 1));
    // oldest first: a prune cut short leaves the newest of those it meant to remove, as a limit would
    if ((remove.length > 0 || before > 0) && !(await store.retention.removeOld(now, [...remove].reverse(), before))) continue;
    const swept = await store.retention.sweep();
    return { ...swept, versions: remove, kept: versions.length - remove.length, ...(before > 0 ? { historyBefore: before } : {}) };
  }
  return { removed: 0, bytes: 0, versions: [], kept, stopped: `the active deployment changed ${PRUNE_ATTEMPTS} times while this host pruned: the next prune goes on` };
}

/** The oldest revision of the newest HISTORY_KEPT deployments (`newest`: one more, newest first), when there are older ones; else 0. */
export function historyCut(newest: Deployment[]): number {
  return newest.length > HISTORY_KEPT ? newest[HISTORY_KEPT - 1]!.revision : 0;
}

/**
 * A switch to version `id`, read before (a rollback's) and removed since by another host's
 * retention: nothing is switched, and the answer says why (404, as for a version never kept).
 */
export function removedMeanwhile(id: string, location: string): LanesError {
  return new LanesError(
    "not_found",
    `version ${id} is no longer in the store ${location}: retention removed it meanwhile (older than the newest --keep-versions); nothing was changed`,
  );
}

/** `--keep-versions`'s rule, for its error. */
export const KEEP_VERSIONS_RULE = `must be a whole number of versions from 1 to ${MAX_KEEP_VERSIONS} (the newest kept; the active one and the one rollback goes back to are kept besides)`;
