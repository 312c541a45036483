/**
 * Retention in a folder store (retention.ts): a version's record goes, with the oldest
 * deployments, then the blobs no kept version names. One host holds the folder and runs its
 * deploys one at a time, prunes in the same turn, so no upload of its own is under way during a
 * sweep; the uploads it was told of are kept all the same (a tool beside the host, in the same
 * process, shares the folder), and records are removed in the store's turn of writes, while
 * the deployment the prune read is still active.
 */
import type { Sys } from "../../adapters/types.ts";
import type { Deployment, VersionRecord } from "./model.ts";
import type { FolderHistory } from "./folder-history.ts";
import type { StoreRetention, SweepResult } from "./retention.ts";
import type { PausePoint } from "./store.ts";

/** What the store (folder-store.ts) shares with its retention: its tables, kept in step, and its turn of writes. */
export interface FolderRecords {
  versions: Map<string, VersionRecord>;
  history: FolderHistory;
  active(): Deployment | undefined;
  inTurn<T>(fn: () => Promise<T>): Promise<T>;
}

const HASH = /^[0-9a-f]{64}$/;

export class FolderRetention implements StoreRetention {
  private readonly uploads = new Map<string, string[]>();

  private readonly versions: Map<string, VersionRecord>;

  constructor(
    private readonly sys: Sys,
    private readonly root: string,
    private readonly store: FolderRecords,
    private readonly pause: PausePoint,
  ) {
    this.versions = store.versions;
  }

  async hold(id: string, hashes: string[]): Promise<void> {
    this.uploads.set(id, hashes);
  }

  async release(id: string): Promise<void> {
    this.uploads.delete(id);
  }

  async held(): Promise<string[]> {
    return [...this.uploads.keys()];
  }

  async removeVersion(id: string): Promise<void> {
    // durable: a crash must not bring back a record whose blobs the sweep then removes
    await this.sys.remove(this.sys.join(this.root, "versions", `${id}.json`), { durable: true });
    this.versions.delete(id);
  }

  async removeOld(active: Deployment, versions: string[], before: number): Promise<boolean> {
    await this.pause("prune");
    return this.store.inTurn(async () => {
      if (JSON.stringify(this.store.active()) !== JSON.stringify(active)) return false;
      for (const id of versions) await this.removeVersion(id);
      await this.store.history.removeBefore(before);
      return true;
    });
  }

  async sweep(): Promise<SweepResult> {
    const keep = new Set<string>();
    for (const v of this.versions.values()) for (const h of Object.values(v.files)) keep.add(h);
    for (const hashes of this.uploads.values()) for (const h of hashes) keep.add(h);
    const folder = this.sys.join(this.root, "blobs");
    let removed = 0;
    let bytes = 0;
    for (const name of await this.sys.list(folder)) {
      if (!HASH.test(name) || keep.has(name)) continue;
      const file = this.sys.join(folder, name);
      bytes += Number((await this.sys.stamp(file))?.split(":")[0] ?? 0);
      await this.sys.remove(file);
      removed++;
    }
    return { removed, bytes };
  }
}
