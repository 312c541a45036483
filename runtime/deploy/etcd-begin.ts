/**
 * A new etcd store (etcd-store.ts), which several hosts may begin at the same moment:
 * - the prefix is claimed with its `store` marker, written only where there is none: a host that
 *   finds keys after another wrote its marker reads the marker again, and finds a lanes store;
 * - the first version is kept and made active in one transaction, only while there is no active
 *   deployment: of hosts started together on an empty store, each on its own folder as `v1`, one
 *   keeps its folder and the others serve it (and write nothing), so the store holds one first
 *   version, v1, never a second one no deployment names.
 */
import { LanesError } from "../errors.ts";
import { versionId, versionNumber, type VersionRecord } from "./model.ts";
import { b64key, type EtcdClient, type KeyValue, parseJson, putOp as put, text, type Compare } from "./etcd-client.ts";
import { deploymentKey } from "./etcd-sweep.ts";

export const FORMAT = { format: "lanes-store", version: 1 };

/** Take `prefix` as a lanes store (`location` names it in errors): one already, or empty. */
export async function claimPrefix(client: EtcdClient, prefix: string, location: string): Promise<void> {
  const marker = `${prefix}/store`;
  const check = (kv: KeyValue) => {
    const m = parseJson<{ format?: string; version?: number }>(kv, location);
    if (m.format !== FORMAT.format || m.version !== FORMAT.version) {
      throw new LanesError("invalid_flag", `--store ${location}: store format ${JSON.stringify(m)} is not one this lanes reads (${JSON.stringify(FORMAT)})`);
    }
  };
  const { kv } = await client.get(marker);
  if (kv) return check(kv);
  // the records of hosts still running on it, written again after etcd lost its data, make no other store of it
  if ((await client.list(`${prefix}/`, { limit: 100, keysOnly: true })).some((kv) => !kv.key.startsWith(`${prefix}/hosts/`))) {
    // a host beside this one that began the store since the marker was read has written it first
    const theirs = (await client.get(marker)).kv;
    if (theirs) return check(theirs);
    throw new LanesError("invalid_flag", `--store ${location}: keys under ${prefix}/ exist but are not a lanes store (no ${marker}); give a prefix of its own`);
  }
  const r = await client.txn([{ key: b64key(marker), target: "VERSION", version: "0" }], [put(marker, JSON.stringify(FORMAT))], [{ request_range: { key: b64key(marker) } }]);
  const theirs = r.ranges[0]?.[0];
  if (!r.succeeded && theirs) check(theirs);
}

/** The id the store's first version takes: the one after the counter, not reserved (hosts beginning the store at once all get it). */
export async function firstVersionId(client: EtcdClient, prefix: string): Promise<string> {
  const { kv } = await client.get(`${prefix}/counter`);
  return versionId((kv ? Number(text(kv.value)) : 0) + 1);
}

/**
 * Keep `v` (its blobs kept already; its id from `firstVersionId`) and make `json`, the first
 * deployment, active, in one transaction that holds only while there is no active deployment,
 * no version `v.id`, and the counter is still below it. Returns whether it was made, etcd's
 * revision then, and the active deployment's key when it was not (another host's).
 */
export async function keepFirst(
  client: EtcdClient,
  prefix: string,
  location: string,
  v: VersionRecord,
  json: string,
): Promise<{ made: boolean; revision: number; active: KeyValue | undefined }> {
  const [counterKey, activeKey, versionKey] = [`${prefix}/counter`, `${prefix}/active`, `${prefix}/versions/${v.id}`];
  const { kv } = await client.get(counterKey);
  const none = (key: string): Compare => ({ key: b64key(key), target: "VERSION", version: "0" });
  const counter: Compare = kv ? { key: b64key(counterKey), target: "MOD", mod_revision: String(kv.modRevision) } : none(counterKey);
  if (versionNumber(v.id) === (kv ? Number(text(kv.value)) : 0) + 1) {
    const r = await client.txn(
      [none(activeKey), none(versionKey), counter],
      [put(counterKey, String(versionNumber(v.id))), put(versionKey, JSON.stringify(v)), put(`${prefix}/${deploymentKey(1)}`, json), put(activeKey, json)],
      [{ request_range: { key: b64key(activeKey) } }, { request_range: { key: b64key(versionKey) } }],
    );
    if (r.succeeded) return { made: true, revision: r.revision, active: undefined };
    const [active, version] = [r.ranges[0]?.[0], r.ranges[1]?.[0]];
    // the same transaction, sent again after its answer was lost on the way to another member
    if (active && text(active.value) === json && version && text(version.value) === JSON.stringify(v)) return { made: true, revision: active.modRevision, active: undefined };
    if (active) return { made: false, revision: r.revision, active };
  } else {
    const { kv: active, revision } = await client.get(activeKey);
    if (active) return { made: false, revision, active };
  }
  throw new LanesError(
    "conflict",
    `store ${location}: version id ${v.id} was taken by another host while this one made the store's first version, and no deployment is active yet; start this host again`,
  );
}
