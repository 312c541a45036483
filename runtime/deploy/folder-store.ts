/**
 * The deploy store in a folder (`lanes start --data DIR`):
 *
 *   DIR/store.json              format marker: a folder without it is not taken over
 *   DIR/blobs/<sha256>          file contents, content-addressed
 *   DIR/versions/<id>.json      version records
 *   DIR/deployments/<rev>.json  the deployments made active (the newest HISTORY_KEPT: retention.ts)
 *   DIR/active.json             the active deployment: the one record a switch replaces
 *   DIR/secrets/all/<NAME>.json            a secret for every function, sealed (never a value)
 *   DIR/secrets/functions/<fn>/<NAME>.json a secret for one function, sealed
 *   DIR/.host.<n>.lock          the host that holds the folder (the highest n counts), or released
 *
 * Every write goes to a temp file that is fsynced, renamed over the name and followed by an
 * fsync of the folder (Sys.writeFile durable), in the order blobs, version, deployment, active.
 * A host killed at any point finds either the old active record or the new one, and each names
 * a version whose files are all there.
 *
 * One host per folder: the compare-and-swap on the revision, and the next version id, are made
 * against what this process holds in memory, so two hosts on one folder would both deploy "v14"
 * and overwrite each other's record. `open` therefore holds the folder (DIR/.host.<n>.lock,
 * adapters/folder-hold.ts) before it reads anything, and refuses while a live host holds it; a
 * hold left by a host that is gone (SIGKILL, power loss) is taken over, and said so. `close`
 * lets it go when the host stops. The same process may open a folder again (tests, tools beside
 * their host): they share the hold. Several hosts share an etcd store instead (etcd-store.ts).
 */
import type { Sys } from "../../adapters/types.ts";
import { LanesError } from "../errors.ts";
import { secretKey, type SecretRecord } from "../secrets/model.ts";
import { sha256Hex, versionId, versionNumber, type Deployment, type VersionRecord } from "./model.ts";
import type { DeployStore, NewDeployment, PausePoint } from "./store.ts";
import { FolderHistory } from "./folder-history.ts";
import { FolderRetention } from "./folder-retention.ts";

const FORMAT = { format: "lanes-store", version: 1 };
const HASH = /^[0-9a-f]{64}$/;
const SUBFOLDERS = ["blobs", "versions", "deployments", "secrets/all", "secrets/functions"];
const encoder = new TextEncoder();

export class FolderStore implements DeployStore {
  private current: Deployment | undefined;
  private readonly versions = new Map<string, VersionRecord>();
  private readonly deployments: FolderHistory;
  private readonly secrets = new Map<string, SecretRecord>();
  private reserved = 0;
  private lock: Promise<unknown> = Promise.resolve();
  private release: () => Promise<void> = async () => {};
  readonly retention: FolderRetention;

  private constructor(
    readonly location: string,
    private readonly sys: Sys,
    private readonly pause: PausePoint,
  ) {
    this.deployments = new FolderHistory(sys, this.path("deployments"), (file) => this.readJson(file));
    this.retention = new FolderRetention(sys, location, { versions: this.versions, history: this.deployments, active: () => this.current, inTurn: (fn) => this.inTurn(fn) }, pause);
  }

  /**
   * Open (or create) the store in `dir` and hold it until `close`. A non-empty folder that is not
   * a store is refused, and so is a folder another live host holds (`conflict`). `warn` hears
   * that a dead host's hold was taken over.
   */
  static async open(dir: string, sys: Sys, pause: PausePoint = async () => {}, warn: (line: string) => void = () => {}): Promise<FolderStore> {
    const root = sys.resolve(dir);
    const s = new FolderStore(root, sys, pause);
    await s.check();
    await s.hold(warn);
    try {
      await s.load();
    } catch (e) {
      await s.close().catch(() => {}); // the failure to open is what to report
      throw e;
    }
    return s;
  }

  /** Let the folder go: another host may open it. Once the last open of this process closes. */
  close(): Promise<void> {
    return this.release();
  }

  private path(...parts: string[]) {
    return this.sys.join(this.location, ...parts);
  }

  /** A store this lanes reads, or an empty or new folder (made here); nothing written yet. */
  private async check() {
    const { sys } = this;
    const marker = this.path("store.json");
    if (await sys.isFile(marker)) {
      const m = await this.readJson<{ format?: string; version?: number }>(marker);
      if (m.format !== FORMAT.format || m.version !== FORMAT.version) {
        throw new LanesError("invalid_flag", `--data ${this.location}: store format ${JSON.stringify(m)} is not one this lanes reads (${JSON.stringify(FORMAT)})`);
      }
    } else {
      // not counted: dot-files (a hold) and the store's own folders, which a store has before its
      // store.json while a host beside this one makes it (this one then finds its hold)
      const names = (await sys.list(this.location)).filter((n) => !n.startsWith(".") && !SUBFOLDERS.some((sub) => sub.split("/")[0] === n));
      if (names.length > 0) {
        throw new LanesError("invalid_flag", `--data ${this.location}: the folder holds files but is not a lanes store (no store.json); give an empty or new folder`);
      }
      await sys.mkdirp(this.location);
    }
  }

  private async hold(warn: (line: string) => void) {
    const flag = `--data ${this.location}`;
    const h = await this.sys.holdFolder(this.location).catch((e: unknown) => {
      throw new LanesError("invalid_flag", `${flag}: cannot hold the folder for this host: ${e instanceof Error ? e.message : String(e)}`);
    });
    if (!h.held) {
      const who = `pid ${h.holder.pid} on ${h.holder.host}, since ${h.holder.since}`;
      const elsewhere = h.elsewhere ? `; it runs on another machine, where lanes cannot see whether it still does: if it does not, delete ${h.file}` : "";
      throw new LanesError(
        "conflict",
        `${flag}: another lanes host holds this store (${who}): one host per --data folder, or both would write the same version ids; stop that host first, or give several hosts one shared etcd store (--store etcd://HOST:PORT/PREFIX)${elsewhere}`,
      );
    }
    this.release = h.release;
    if (h.tookOver) {
      const { holder, why } = h.tookOver;
      warn(`${flag}: took over the hold${holder ? ` of pid ${holder.pid} on ${holder.host} (since ${holder.since})` : ""}: ${why}, so its host did not stop cleanly`);
    }
  }

  private async load() {
    const { sys } = this;
    const marker = this.path("store.json");
    for (const sub of SUBFOLDERS) await sys.mkdirp(this.path(sub));
    // the marker last, durably: its folder's fsync also makes the sub-folders above durable
    if (!(await sys.isFile(marker))) await this.writeJson(marker, FORMAT);
    await this.removeTempFiles();

    for (const name of await sys.list(this.path("versions"))) {
      if (!name.endsWith(".json")) continue;
      const v = await this.readJson<VersionRecord>(this.path("versions", name));
      this.versions.set(v.id, v);
    }
    if (await sys.isFile(this.path("active.json"))) this.current = await this.readJson<Deployment>(this.path("active.json"));
    await this.deployments.load(this.current?.revision ?? 0);
    await this.loadSecrets();
  }

  /** The secret records as the folder holds them now. */
  private async loadSecrets() {
    this.secrets.clear();
    for (const folder of await this.secretFolders()) {
      for (const name of await this.sys.list(folder)) {
        if (!name.endsWith(".json") || name.startsWith(".")) continue;
        const r = await this.readJson<SecretRecord>(this.sys.join(folder, name));
        this.secrets.set(secretKey(r.name, r.function), r);
      }
    }
  }

  /** The folders secret records are kept in (the one for every function, then one per function). */
  private async secretFolders(): Promise<string[]> {
    const perFunction = this.path("secrets", "functions");
    return [this.path("secrets", "all"), ...(await this.sys.list(perFunction)).map((fn) => this.sys.join(perFunction, fn))];
  }

  private secretFile(name: string, fn: string | null): string {
    return fn === null ? this.path("secrets", "all", `${name}.json`) : this.path("secrets", "functions", fn, `${name}.json`);
  }

  /** Temp files of writes a crash interrupted (they never took their name); a hold's own (`.host.*`) belong to hosts starting now. */
  private async removeTempFiles() {
    const folders = [...["", "blobs", "versions", "deployments"].map((sub) => this.path(sub)), ...(await this.secretFolders())];
    for (const folder of folders) {
      for (const name of await this.sys.list(folder)) {
        if (name.startsWith(".") && name.endsWith(".tmp") && !name.startsWith(".host.")) await this.sys.remove(this.sys.join(folder, name));
      }
    }
  }

  async putBlob(bytes: Uint8Array): Promise<string> {
    const hash = await sha256Hex(bytes);
    const file = this.path("blobs", hash);
    if (!(await this.sys.isFile(file))) {
      await this.sys.writeFile(file, bytes, { durable: true });
      await this.pause("blob");
    }
    return hash;
  }

  async getBlob(hash: string): Promise<Uint8Array> {
    if (!HASH.test(hash)) throw new LanesError("internal", `store ${this.location}: ${JSON.stringify(hash)} is not a blob hash`);
    const bytes = await this.sys.readBytes(this.path("blobs", hash)).catch(() => {
      throw new LanesError("internal", `store ${this.location}: blob ${hash} is missing`);
    });
    if ((await sha256Hex(bytes)) !== hash) {
      throw new LanesError("internal", `store ${this.location}: blob ${hash} is damaged (its bytes no longer match their hash)`);
    }
    return bytes;
  }

  async nextVersionId(): Promise<string> {
    let max = this.reserved;
    for (const id of this.versions.keys()) max = Math.max(max, versionNumber(id));
    this.reserved = max + 1;
    return versionId(this.reserved);
  }

  async putVersion(v: VersionRecord): Promise<void> {
    // versions never change: a record this store did not write is another writer's (checked, not trusted to the hold alone)
    if (!this.versions.has(v.id) && (await this.sys.isFile(this.path("versions", `${v.id}.json`)))) {
      throw new LanesError("conflict", `store ${this.location}: version ${v.id} is kept already, by another writer of this folder; versions never change`);
    }
    for (const hash of Object.values(v.files)) {
      if (!(await this.sys.isFile(this.path("blobs", hash)))) {
        throw new LanesError("internal", `store ${this.location}: version ${v.id} names blob ${hash}, which is not kept`);
      }
    }
    await this.writeJson(this.path("versions", `${v.id}.json`), v);
    this.versions.set(v.id, v);
    await this.pause("version");
  }

  async getVersion(id: string): Promise<VersionRecord | undefined> {
    return this.versions.get(id);
  }

  async listVersions(): Promise<VersionRecord[]> {
    return [...this.versions.values()].sort((a, b) => versionNumber(b.id) - versionNumber(a.id));
  }

  async active(): Promise<Deployment | undefined> {
    return this.current;
  }

  activate(next: NewDeployment, expected: number): Promise<Deployment> {
    return this.inTurn(async () => {
      const now = this.current?.revision ?? 0;
      if (now !== expected) {
        throw new LanesError("conflict", `the active deployment changed meanwhile (revision ${now}, expected ${expected}); nothing was changed`);
      }
      for (const v of [next.stable, next.canary?.version]) {
        if (v && !this.versions.has(v)) throw new LanesError("internal", `store ${this.location}: deployment names version ${v}, which is not kept`);
      }
      const d: Deployment = { ...next, revision: now + 1 };
      await this.writeJson(this.path("deployments", `${d.revision}.json`), d);
      await this.pause("deployment");
      await this.writeJson(this.path("active.json"), d, () => this.pause("active-temp"));
      this.current = d;
      this.deployments.add(d);
      await this.pause("active");
      return d;
    });
  }

  async history(limit?: number): Promise<Deployment[]> {
    return this.deployments.list(limit);
  }

  /** One write at a time: the switches, and retention's removals (folder-retention.ts). */
  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => {});
    return run;
  }

  async listSecrets(): Promise<SecretRecord[]> {
    // read again each time: a few small files, and SecretKeeper.refresh sees what another writer put there
    await this.loadSecrets();
    return [...this.secrets.values()];
  }

  async putSecret(r: SecretRecord): Promise<void> {
    const file = this.secretFile(r.name, r.function);
    await this.sys.mkdirp(this.sys.dirname(file));
    await this.writeJson(file, r);
    this.secrets.set(secretKey(r.name, r.function), r);
  }

  async deleteSecret(name: string, fn: string | null): Promise<boolean> {
    const key = secretKey(name, fn);
    if (!this.secrets.has(key)) return false;
    await this.sys.remove(this.secretFile(name, fn), { durable: true });
    this.secrets.delete(key);
    return true;
  }

  private async readJson<T>(file: string): Promise<T> {
    const text = await this.sys.readText(file);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new LanesError("internal", `store ${this.location}: ${file} is not valid JSON (was it edited by hand?)`);
    }
  }

  private writeJson(file: string, value: unknown, beforeRename?: () => Promise<void>): Promise<void> {
    return this.sys.writeFile(file, encoder.encode(`${JSON.stringify(value, null, 2)}\n`), {
      durable: true,
      ...(beforeRename ? { beforeRename } : {}),
    });
  }
}
