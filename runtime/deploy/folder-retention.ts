/**
 * Retention in a folder store (retention.ts): a version's record goes, then the blobs no kept
 * version names. One host holds the folder and runs its deploys one at a time, prunes in the
 * same turn, so no upload of its own is under way during a sweep; the uploads it was told of
 * are kept all the same (a tool beside the host, in the same process, shares the folder).
 */
import type { Sys } from "../../adapters/types.ts";
import type { VersionRecord } from "./model.ts";
import type { StoreRetention, SweepResult } from "./retention.ts";

const HASH = /^[0-9a-f]{64}$/;

export class FolderRetention implements StoreRetention {
  private readonly uploads = new Map<string, string[]>();

  /** `versions`: the store's own table of its records, kept in step. */
  constructor(
    private readonly sys: Sys,
    private readonly root: string,
    private readonly versions: Map<string, VersionRecord>,
  ) {}

  async hold(id: string, hashes: string[]): Promise<void> {
    this.uploads.set(id, hashes);
  }

  async release(id: string): Promise<void> {
    this.uploads.delete(id);
  }

  async removeVersion(id: string): Promise<void> {
    // durable: a crash must not bring back a record whose blobs the sweep then removes
    await this.sys.remove(this.sys.join(this.root, "versions", `${id}.json`), { durable: true });
    this.versions.delete(id);
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
