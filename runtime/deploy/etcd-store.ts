/**
 * The deploy store in etcd (`lanes start --store etcd://HOST:PORT/PREFIX`), shared by every host
 * started on it. Under PREFIX:
 *
 *   store                 format marker: a prefix holding other keys is not taken over
 *   chunks/<sha256>       up to 512 KiB of a file, content-addressed (etcd-blobs.ts)
 *   blobs/<sha256>        a file: {size, chunks} (etcd refuses requests over 1.5 MiB by default)
 *   versions/<id>         version records
 *   counter               the last version number handed out, raised by compare-and-swap
 *   deployments/<rev>     every deployment that was made active (rev zero-padded: key order)
 *   staged/<id>/<stage>   a version a host is loading for a switch (other hosts load it too); one key
 *                         per staging: two hosts rolling back to one version at once each keep theirs
 *   uploads/<id>          the blobs a deploy under way writes, kept from a sweep (etcd-sweep.ts)
 *   active                the active deployment
 *   hosts/<id>            one record per live host, on a lease (etcd-members.ts)
 *   secrets/<fn|*>/<name> sealed secret records (their values never in the clear)
 *
 * Writes go in the folder store's order (chunks, blob, version, then deployment and active), so
 * whatever is in etcd is complete. The switch is one transaction: it writes `deployments/<rev>`
 * and `active` only if `active` still has the mod revision it had when the caller read it, so
 * two hosts deploying at once cannot both win: the second gets `conflict` (409); and only if
 * the versions it names are still kept, which another host's retention may remove meanwhile
 * (404; retention.ts). Retention removes the deployments past the newest HISTORY_KEPT.
 */
import { LanesError } from "../errors.ts";
import { secretKey, type SecretRecord } from "../secrets/model.ts";
import { describeDeployment, HISTORY_KEPT, versionId, versionNumber, versionsOf, type Deployment, type HostRecord, type VersionRecord } from "./model.ts";
import { claimPrefix, firstVersionId, keepFirst } from "./etcd-begin.ts";
import { b64key, EtcdAnswer, EtcdClient, parseJson, putOp as put, text, type Compare } from "./etcd-client.ts";
import { EtcdBlobs } from "./etcd-blobs.ts";
import { StoreHistory } from "./etcd-history.ts";
import { deploymentKey, EtcdRetention } from "./etcd-sweep.ts";
import { removedMeanwhile } from "./retention.ts";
import { Members } from "./etcd-members.ts";
import type { EtcdTarget } from "./etcd-url.ts";
import { coalesced, followKey } from "./etcd-watch.ts";
import type { ClusterStore, NewDeployment, PausePoint, StagedVersion, StoreState } from "./store.ts";

export interface EtcdStoreOptions {
  pause?: PausePoint;
  /** Seconds a host's record outlives its last renewal. */
  hostTtl?: number;
}

export class EtcdStore implements ClusterStore {
  readonly location: string;
  private current: StoreState = { reachable: true, since: new Date().toISOString(), error: null, lost: null, full: null };
  /** The active deployment last seen, and whether etcd still holds its history (etcd-history.ts). */
  private readonly line: StoreHistory;
  private stateListener: (s: StoreState) => void = () => {};
  private readonly members: Members;
  private readonly blobs: EtcdBlobs;
  private readonly stopWatch = new AbortController();
  private watch: { kick(): void } | undefined;
  readonly retention: EtcdRetention;

  private constructor(
    private readonly target: EtcdTarget,
    private readonly client: EtcdClient,
    private readonly pause: PausePoint,
    hostTtl: number,
  ) {
    this.location = target.url;
    this.line = new StoreHistory(
      target.url,
      () => this.current,
      (s) => this.setState(s),
    );
    // a renewal that fails may be the first sign of a member cut off: watch through another one
    this.members = new Members(client, this.key("hosts/"), hostTtl, () => this.watch?.kick());
    this.blobs = new EtcdBlobs(client, (rest) => this.key(rest), target.url);
    this.retention = new EtcdRetention(client, target.prefix, () => this.members.leaseId(), pause);
    client.onReach = (ok, why) => this.reach(ok, why);
    client.onFull = (full) => full !== this.current.full && this.setState({ ...this.current, full });
  }

  /** Connect and check the prefix is a lanes store (or empty: it becomes one). */
  static async open(target: EtcdTarget, o: EtcdStoreOptions = {}): Promise<EtcdStore> {
    const s = new EtcdStore(target, new EtcdClient(target.url, target.endpoints), o.pause ?? (async () => {}), o.hostTtl ?? 10);
    await claimPrefix(s.client, target.prefix, target.url);
    return s;
  }

  private key(rest: string): string {
    return `${this.target.prefix}/${rest}`;
  }

  async putBlob(bytes: Uint8Array): Promise<string> {
    const { hash, written } = await this.blobs.put(bytes);
    if (written) await this.pause("blob");
    return hash;
  }

  getBlob(hash: string): Promise<Uint8Array> {
    return this.blobs.get(hash);
  }

  /** The counter goes up by compare-and-swap: two hosts asking at once get two ids. */
  async nextVersionId(): Promise<string> {
    const key = this.key("counter");
    for (let attempt = 0; attempt < 50; attempt++) {
      const { kv } = await this.client.get(key);
      const n = kv ? Number(text(kv.value)) : 0;
      const guard: Compare = kv ? { key: b64key(key), target: "MOD", mod_revision: String(kv.modRevision) } : { key: b64key(key), target: "VERSION", version: "0" };
      const r = await this.client.txn([guard], [put(key, String(n + 1))], []);
      if (r.succeeded) return versionId(n + 1);
    }
    throw new LanesError("conflict", `store ${this.location}: could not reserve a version id (too many deploys at once); try again`);
  }

  firstVersionId(): Promise<string> {
    return firstVersionId(this.client, this.target.prefix);
  }

  async begin(v: VersionRecord, first: NewDeployment): Promise<{ active: Deployment; mine: boolean }> {
    await this.blobsKept(v);
    const d: Deployment = { ...first, revision: 1 };
    const json = JSON.stringify(d);
    const r = await keepFirst(this.client, this.target.prefix, this.location, v, json);
    if (!r.active) this.line.seen = { revision: 1, modRevision: r.revision, json };
    return r.active ? { active: this.line.note(r.active), mine: false } : { active: d, mine: true };
  }

  async putVersion(v: VersionRecord): Promise<void> {
    await this.blobsKept(v);
    await this.client.put(this.key(`versions/${v.id}`), JSON.stringify(v));
    await this.pause("version");
  }

  async getVersion(id: string): Promise<VersionRecord | undefined> {
    const { kv } = await this.client.get(this.key(`versions/${id}`));
    return kv ? parseJson<VersionRecord>(kv, this.location) : undefined;
  }

  async listVersions(): Promise<VersionRecord[]> {
    const all = (await this.client.list(this.key("versions/"))).map((kv) => parseJson<VersionRecord>(kv, this.location));
    return all.sort((a, b) => versionNumber(b.id) - versionNumber(a.id));
  }

  async active(): Promise<Deployment | undefined> {
    const { kv } = await this.client.get(this.key("active"));
    return kv ? this.line.note(kv) : undefined;
  }

  async activate(next: NewDeployment, expected: number): Promise<Deployment> {
    const key = this.key("active");
    // compare the mod revision of the read that showed `expected`: the watch moves `seen` on meanwhile
    let base = this.line.seen;
    if (expected > 0 && base?.revision !== expected) {
      const { kv } = await this.client.get(key);
      const now = kv ? this.line.note(kv) : undefined;
      if (!kv || now?.revision !== expected) throw this.conflict(now, expected);
      base = { revision: expected, modRevision: kv.modRevision, json: text(kv.value) };
    }
    const guard: Compare = expected === 0 ? { key: b64key(key), target: "VERSION", version: "0" } : { key: b64key(key), target: "MOD", mod_revision: String(base!.modRevision) };
    const d: Deployment = { ...next, revision: expected + 1 };
    for (const v of versionsOf(d)) if (!(await this.client.has(this.key(`versions/${v}`)))) throw removedMeanwhile(v, this.location);
    // and kept still when the switch is made: another host's retention may remove them in between (retention.ts)
    const kept = versionsOf(d).map((v): Compare => ({ key: b64key(this.key(`versions/${v}`)), target: "VERSION", result: "GREATER", version: "0" }));
    const json = JSON.stringify(d);
    await this.pause("deployment");
    await this.pause("active-temp");
    let r: Awaited<ReturnType<EtcdClient["txn"]>>;
    try {
      r = await this.client.txn([guard, ...kept], [put(this.key(deploymentKey(d.revision)), json), put(key, json)], [{ request_range: { key: b64key(key) } }]);
    } catch (e) {
      if (e instanceof EtcdAnswer) throw new LanesError("internal", `store ${this.location}: ${e.message}`);
      throw e;
    }
    if (!r.succeeded) {
      const now = r.ranges[0]?.[0];
      // the same switch, sent again after its answer was lost on the way to another member
      if (now && text(now.value) === json) {
        this.line.note(now);
        return d;
      }
      for (const v of versionsOf(d)) if (!(await this.client.has(this.key(`versions/${v}`)))) throw removedMeanwhile(v, this.location);
      throw this.conflict(now ? this.line.note(now) : undefined, expected);
    }
    this.line.seen = { revision: d.revision, modRevision: r.revision, json };
    await this.pause("active");
    return d;
  }

  async history(limit = HISTORY_KEPT): Promise<Deployment[]> {
    return (await this.client.list(this.key("deployments/"), { limit, descend: true })).map((kv) => parseJson<Deployment>(kv, this.location));
  }

  async listSecrets(): Promise<SecretRecord[]> {
    return (await this.client.list(this.key("secrets/"))).map((kv) => parseJson<SecretRecord>(kv, this.location));
  }

  async putSecret(r: SecretRecord): Promise<void> {
    await this.client.put(this.key(`secrets/${secretKey(r.name, r.function)}`), JSON.stringify(r));
  }

  deleteSecret(name: string, fn: string | null): Promise<boolean> {
    return this.client.remove(this.key(`secrets/${secretKey(name, fn)}`));
  }

  follow(onActive: (d: Deployment, epoch: number) => void, onState: (s: StoreState) => void, onStaged: (v: StagedVersion) => void): void {
    this.stateListener = onState;
    this.watch = followKey(
      this.client,
      this.key("active"),
      (kv) => onActive(this.line.note(kv), this.line.epoch),
      this.stopWatch.signal,
      false,
      () => this.line.noteGone(),
      // etcd's revision never goes back: a read older than the switch seen is a store restored or made anew
      (revision, found) => (!found || revision < (this.line.seen?.modRevision ?? 0)) && this.line.noteGone(),
    );
    const staged = followKey(this.client, this.key("staged/"), (kv) => onStaged(parseJson<StagedVersion>(kv, this.location)), this.stopWatch.signal, true);
    const active = this.watch;
    this.watch = {
      kick: () => {
        active.kick();
        staged.kick();
      },
    };
  }

  followSecrets(onChange: () => void): void {
    const changed = coalesced(onChange, 50); // the keeper reads every record again anyway
    followKey(this.client, this.key("secrets/"), changed, this.stopWatch.signal, true, changed);
  }

  async stage(id: string, files: Map<string, Uint8Array>, hashes: Record<string, string>, stage: string): Promise<void> {
    for (const bytes of files.values()) await this.putBlob(bytes);
    const staged: StagedVersion = { id, files: hashes, stage };
    await this.client.put(this.key(`staged/${id}/${stage}`), JSON.stringify(staged), await this.members.leaseId());
  }

  async unstage(id: string, stage: string): Promise<void> {
    await this.client.remove(this.key(`staged/${id}/${stage}`));
  }

  state(): StoreState {
    return this.current;
  }

  seenRevision(): number | undefined {
    return this.line.seen?.revision;
  }

  rejoined(epoch: number): void {
    this.line.rejoined(epoch);
  }

  announce(record: HostRecord): Promise<void> {
    return this.members.announce(record);
  }

  hostId(): string | undefined {
    return this.members.id;
  }

  hosts(): Promise<HostRecord[]> {
    return this.members.list();
  }

  async close(): Promise<void> {
    this.stopWatch.abort();
    await this.members.close();
  }

  private async blobsKept(v: VersionRecord) {
    for (const hash of new Set(Object.values(v.files))) {
      if (!(await this.client.has(this.key(`blobs/${hash}`)))) throw new LanesError("internal", `store ${this.location}: version ${v.id} names blob ${hash}, which is not kept`);
    }
  }

  private conflict(now: Deployment | undefined, expected: number): LanesError {
    const who = now ? `deployment ${now.revision} (${describeDeployment(now)}, ${now.reason} by ${now.author}) became active first` : `it is no longer deployment ${expected}`;
    return new LanesError("conflict", `the active deployment changed meanwhile, on this or another host: ${who}; nothing was changed (see lanes versions, then deploy again)`);
  }

  private setState(s: StoreState) {
    this.current = s;
    this.stateListener(s);
  }

  private reach(ok: boolean, why: string | null) {
    // still away: keep when it went, say why it still is
    if (!ok && !this.current.reachable) this.current = { ...this.current, error: why };
    if (ok === this.current.reachable) return;
    this.setState({ ...this.current, reachable: ok, since: new Date().toISOString(), error: ok ? null : why });
  }
}
