/**
 * Retention on etcd (retention.ts): `uploads/<id>` says which blobs an upload under way writes
 * (on the host's lease: a host that dies takes it along), a sweep removes blobs and chunks no
 * version, upload or staging names, then compacts etcd's history.
 *
 * The race with an upload on another host: the upload puts its `uploads/<id>` before it looks
 * for or writes any blob. The sweep reads `uploads/` at revision R, then everything else, and
 * deletes in transactions that hold only while no key under `uploads/` was created after R. So
 * an upload either was seen (its blobs are kept), or began after R (the deletes fail and the
 * sweep stops, leaving the rest to the next one), or begins after a delete went through (its
 * own lookups then find the blob gone and write it again). Chunks are written before their
 * blob's record names them: with any upload under way, none is removed.
 */
import { b64key, prefixEnd, text, type Compare, type EtcdClient, type TxnOp } from "./etcd-client.ts";
import type { Deployment } from "./model.ts";
import type { StoreRetention, SweepResult } from "./retention.ts";
import type { PausePoint, StagedVersion } from "./store.ts";

/** The key of deployment `revision` under the store's prefix (zero-padded: key order is revision order). */
export function deploymentKey(revision: number): string {
  return `deployments/${String(revision).padStart(12, "0")}`;
}

/** etcd refuses a transaction of more than 128 operations by default (--max-txn-ops). */
const BATCH = 100;

interface BlobRecord {
  size: number;
  chunks: string[];
}

export class EtcdRetention implements StoreRetention {
  /** `prefix`: the store's (its keys are `prefix/...`); `lease`: the host's, which an upload's hold is put with. */
  constructor(
    private readonly client: EtcdClient,
    private readonly prefix: string,
    private readonly lease: () => Promise<string>,
    private readonly pause: PausePoint = async () => {},
  ) {}

  private key(rest: string): string {
    return `${this.prefix}/${rest}`;
  }

  async hold(id: string, hashes: string[]): Promise<void> {
    await this.client.put(this.key(`uploads/${id}`), JSON.stringify({ id, hashes }), await this.lease());
  }

  async release(id: string): Promise<void> {
    await this.client.remove(this.key(`uploads/${id}`));
  }

  async held(): Promise<string[]> {
    return (await this.client.list(this.key("uploads/"))).map((kv) => json<{ id: string }>(kv.value).id);
  }

  async removeVersion(id: string): Promise<void> {
    await this.client.remove(this.key(`versions/${id}`));
  }

  /**
   * In transactions that hold only while `active` keeps the mod revision it has when read here:
   * a switch by another host in between (a rollback to one of `versions`) makes them fail, and
   * what a failed one would have removed stays.
   */
  async removeOld(active: Deployment, versions: string[], before: number): Promise<boolean> {
    const activeKey = this.key("active");
    const { kv } = await this.client.get(activeKey);
    if (!kv || JSON.stringify(json<Deployment>(kv.value)) !== JSON.stringify(active)) return false;
    await this.pause("prune");
    const guard: Compare = { key: b64key(activeKey), target: "MOD", mod_revision: String(kv.modRevision) };
    const ops = versions.map((id): TxnOp => ({ request_delete_range: { key: b64key(this.key(`versions/${id}`)) } }));
    if (before > 0) ops.unshift({ request_delete_range: { key: b64key(this.key(deploymentKey(0))), range_end: b64key(this.key(deploymentKey(before))) } });
    for (let at = 0; at < ops.length; at += BATCH) {
      if (!(await this.client.txn([guard], ops.slice(at, at + BATCH), [])).succeeded) return false;
    }
    return true;
  }

  async sweep(): Promise<SweepResult> {
    const uploadsKey = this.key("uploads/");
    const uploads = await this.client.listAt(uploadsKey);
    const keep = new Set<string>();
    for (const kv of uploads.kvs) for (const h of json<{ hashes: string[] }>(kv.value).hashes) keep.add(h);
    for (const kv of await this.client.list(this.key("versions/"))) for (const h of Object.values(json<{ files: Record<string, string> }>(kv.value).files)) keep.add(h);
    for (const kv of await this.client.list(this.key("staged/"))) for (const h of Object.values(json<StagedVersion>(kv.value).files)) keep.add(h);

    const deletes: string[] = [];
    const keptChunks = new Set<string>();
    const sizes = new Map<string, number>();
    const blobsKey = this.key("blobs/");
    for (const kv of await this.client.list(blobsKey)) {
      const hash = kv.key.slice(blobsKey.length);
      const blob = json<BlobRecord>(kv.value);
      if (keep.has(hash)) {
        for (const c of blob.chunks) keptChunks.add(c);
      } else {
        deletes.push(kv.key);
        sizes.set(kv.key, blob.size);
      }
    }
    if (uploads.kvs.length === 0) {
      const chunksKey = this.key("chunks/");
      for (const kv of await this.client.list(chunksKey, { keysOnly: true })) if (!keptChunks.has(kv.key.slice(chunksKey.length))) deletes.push(kv.key);
    }

    // no upload may have begun since `uploads/` was read (an empty range holds: no key, none newer)
    const guard: Compare = { key: b64key(uploadsKey), range_end: prefixEnd(uploadsKey), target: "CREATE", result: "LESS", create_revision: String(uploads.revision + 1) };
    let revision = uploads.revision;
    let removed = 0;
    let bytes = 0;
    for (let at = 0; at < deletes.length; at += BATCH) {
      const batch = deletes.slice(at, at + BATCH);
      const r = await this.client.txn(
        [guard],
        batch.map((k): TxnOp => ({ request_delete_range: { key: b64key(k) } })),
        [],
      );
      if (!r.succeeded) return { removed, bytes, stopped: "an upload began meanwhile: the next sweep removes the rest" };
      removed += batch.filter((k) => sizes.has(k)).length;
      for (const k of batch) bytes += sizes.get(k) ?? 0;
      revision = r.revision;
    }
    await this.compact(revision);
    return { removed, bytes, compactedTo: revision };
  }

  /** Compact to `revision`; one another host compacted to already (or past) is done. */
  private async compact(revision: number): Promise<void> {
    await this.client.compact(revision).catch((e: unknown) => {
      if (!(e instanceof Error && /compacted/.test(e.message))) throw e;
    });
  }
}

function json<T>(value: Uint8Array): T {
  return JSON.parse(text(value)) as T;
}
