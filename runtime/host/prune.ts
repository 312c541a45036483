/**
 * A deploy's part in retention (runtime/deploy/retention.ts): its blobs are held from sweeps
 * while it uploads, and once it is active the versions past `--keep-versions` go, with the
 * deployments past the newest HISTORY_KEPT. A prune that fails is logged, not answered: the
 * deploy it follows is done, and the next one prunes again.
 */
import { HISTORY_KEPT, VERSION_ID, type Deployment } from "../deploy/model.ts";
import { DEFAULT_KEEP_VERSIONS, prune } from "../deploy/retention.ts";
import type { DeployerOptions, SwitchResult } from "./deployer-types.ts";
import type { Release } from "./release.ts";
import type { Served } from "./served.ts";

/**
 * Whether this host still runs something out of its copy `runDir/<name>`: a function keeps the
 * folder of the version that started it while later versions that left it unchanged share it,
 * and a version switched away from finishes its requests there. Such a copy stays when its
 * version leaves the store, and goes after a later switch once nothing runs from it.
 */
export type CopiesInUse = () => Set<string>;

/** Run `upload` (the deploy of version `id`) with its blobs held from sweeps, then prune after it. */
export async function heldUpload(o: DeployerOptions, id: string, hashes: Record<string, string>, upload: () => Promise<SwitchResult>, inUse: CopiesInUse): Promise<SwitchResult> {
  await o.store.retention.hold(id, [...new Set(Object.values(hashes))]);
  let r: SwitchResult;
  try {
    r = await upload();
  } finally {
    // on a shared store the hold is on this host's lease: it goes with the host in any case
    await o.store.retention.release(id).catch((e: unknown) => o.log.warn(`${o.store.location}: could not drop the hold of ${id}'s upload: ${message(e)}`));
  }
  const pruned = await pruneVersions(o, r.deployment, inUse);
  return pruned ? { ...r, pruned } : r;
}

/** Remove the versions past `--keep-versions` that no deployment needs; their names (undefined when it failed). */
export async function pruneVersions(o: DeployerOptions, active: Deployment, inUse: CopiesInUse): Promise<string[] | undefined> {
  const keep = o.keepVersions ?? DEFAULT_KEEP_VERSIONS;
  try {
    const r = await prune(o.store, active, keep);
    // their copies on this host's disk go too, but for those functions still run from (dropRemovedCopies takes them later)
    const busy = inUse();
    for (const id of r.versions) if (!busy.has(id)) await o.adapter.sys.remove(o.adapter.sys.join(o.runDir, id));
    if (r.versions.length > 0 || r.removed > 0 || r.historyBefore || r.stopped) {
      const compacted = r.compactedTo ? `; etcd's history compacted to revision ${r.compactedTo}` : "";
      const history = r.historyBefore ? `, the deployments before ${r.historyBefore} (the newest ${HISTORY_KEPT} are kept)` : "";
      o.log.info(
        `retention (--keep-versions ${keep}): removed ${r.versions.join(", ") || "no version"}${history} and ${r.removed} blob(s) of ${Math.round(r.bytes / 1024)} KiB; ${r.kept} version(s) kept${compacted}${r.stopped ? `; ${r.stopped}` : ""}`,
      );
    }
    return r.versions;
  } catch (e) {
    o.log.warn(`retention (--keep-versions ${keep}): could not remove old versions from ${o.store.location}: ${message(e)}; the next deploy tries again`);
    return undefined;
  }
}

/**
 * Remove this host's unpacked copies (runDir/<id>) of versions the store no longer holds: a host
 * following another's deploys writes one for each, and removes none itself. `inUse`: the copies
 * it serves, prepares or runs functions from now. One that cannot be removed now is tried again
 * after the next switch.
 */
export async function dropRemovedCopies(o: DeployerOptions, inUse: CopiesInUse): Promise<void> {
  const { sys } = o.adapter;
  try {
    const busy = inUse();
    for (const id of await sys.list(o.runDir)) {
      if (!VERSION_ID.test(id) || busy.has(id) || (await o.store.getVersion(id))) continue;
      // asked again: another host's staged version may have begun to be prepared here meanwhile
      if (!inUse().has(id)) await sys.remove(sys.join(o.runDir, id));
    }
  } catch (e) {
    o.log.warn(`could not remove the copies of versions no longer kept from ${o.runDir}: ${message(e)}`);
  }
}

/** The names of the copies under `runDir` that `releases` were written to and `served` functions run from. */
export function foldersRunFrom(o: DeployerOptions, releases: Release[], served: Served[]): Set<string> {
  const { sys } = o.adapter;
  const names = new Set<string>();
  for (const dir of [...releases.map((r) => r.dir), ...served.map((s) => s.spec.dir)]) {
    const rel = sys.relative(o.runDir, dir);
    if (rel !== "" && !rel.startsWith("..") && !sys.isAbsolute(rel)) names.add(rel.split(/[\\/]/)[0]!);
  }
  return names;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
