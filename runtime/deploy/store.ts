/**
 * Where versions and deployments are kept. `lanes start --data DIR` uses the folder backend
 * (folder-store.ts), `--store etcd://...` etcd (etcd-store.ts), which several hosts share. Both
 * give the same guarantees:
 * - blobs are content-addressed and checked against their hash when read;
 * - a version record is written only after all its blobs, and the active deployment only after
 *   its version, so whatever the store holds after a crash is complete;
 * - the active deployment is one small record switched by compare-and-swap on its revision;
 * - secrets are records the host has sealed already (runtime/secrets/crypto.ts): a store never
 *   sees a value, and keeps a record durably before `putSecret` resolves.
 */
import type { SecretRecord } from "../secrets/model.ts";
import type { Deployment, HostRecord, VersionRecord } from "./model.ts";
import type { StoreRetention } from "./retention.ts";

export type NewDeployment = Omit<Deployment, "revision">;

/** A test-only hook: called at named points of a write, so a test can kill the host exactly there. */
export type PausePoint = (stage: PauseStage) => Promise<void>;
export type PauseStage = "blob" | "version" | "deployment" | "active-temp" | "active" | "prune";

export interface DeployStore {
  /** Where it keeps its data, for messages. */
  readonly location: string;
  /** Keep `bytes` under their SHA-256; returns the hash. Keeping what is there already costs a lookup. */
  putBlob(bytes: Uint8Array): Promise<string>;
  /** The bytes kept under `hash`, checked against it. */
  getBlob(hash: string): Promise<Uint8Array>;
  /** An id no version has, reserved for the caller. */
  nextVersionId(): Promise<string>;
  /** Keep a version record; every blob it names must be kept already. */
  putVersion(v: VersionRecord): Promise<void>;
  getVersion(id: string): Promise<VersionRecord | undefined>;
  /** Every version, newest first. */
  listVersions(): Promise<VersionRecord[]>;
  /** The active deployment; undefined while the store is new. */
  active(): Promise<Deployment | undefined>;
  /**
   * Make `next` the active deployment if the active revision is still `expected` (0: none yet);
   * otherwise throw `conflict`. Returns it with its revision (`expected` + 1).
   */
  activate(next: NewDeployment, expected: number): Promise<Deployment>;
  /** Deployments that were active, newest first (at most `limit`, HISTORY_KEPT unless told; retention keeps no more). */
  history(limit?: number): Promise<Deployment[]>;
  /** Every secret record (sealed values), in no particular order. */
  listSecrets(): Promise<SecretRecord[]>;
  /** Keep `s`, replacing the record with its name and function. */
  putSecret(s: SecretRecord): Promise<void>;
  /** Remove the record of `name` for `fn` (null: the one for every function); false when there was none. */
  deleteSecret(name: string, fn: string | null): Promise<boolean>;
  /** Removing what `--keep-versions` no longer keeps (retention.ts). */
  readonly retention: StoreRetention;
}

/** Whether a shared store can be reached now, and since when. */
export interface StoreState {
  reachable: boolean;
  /** ISO 8601: when it last changed. */
  since: string;
  /** Why it cannot be reached (null while it can). */
  error: string | null;
  /**
   * Why it answers but no longer holds the active deployment this host saw (wiped, or replaced
   * by an empty etcd), or holds one made since that this host has not switched to yet: null
   * while it does. Deploys are refused meanwhile, as the store would hand out version ids the
   * hosts already serve under other contents.
   */
  lost: string | null;
  /** Why it refuses writes for want of space (etcd's quota; null while it takes them). */
  full: string | null;
}

/**
 * A store several hosts share (etcd-store.ts): each follows the active deployment, whoever
 * switched it, and keeps a record of what it serves that lasts as long as the host does.
 */
export interface ClusterStore extends DeployStore {
  /**
   * Calls `onActive` with the active deployment now and with every one made active after it
   * (again after each reconnect, so nothing missed while away is lost), `onState` when the
   * store stops or starts answering. Runs until `close`. `epoch` goes up when the store holds
   * deployments made after it lost the ones before (etcd-history.ts): revisions and version ids
   * start again, and the host switches to such a deployment whatever it serves, then says
   * `rejoined(epoch)`.
   */
  follow(onActive: (d: Deployment, epoch: number) => void, onState: (s: StoreState) => void, onStaged: (v: StagedVersion) => void): void;
  /** This host serves a deployment of `epoch` now: the store's `lost` is over. */
  rejoined(epoch: number): void;
  /**
   * Keep a version's files and tell the other hosts it is being deployed, before this host loads
   * it, so they load it at the same time (`onStaged`); the notice lasts until `unstage` or until
   * this host is gone. It is not a version yet: `putVersion` and `activate` still decide.
   */
  stage(id: string, files: Map<string, Uint8Array>, hashes: Record<string, string>, stage: string): Promise<void>;
  /** End the notice of staging `stage` of `id` (another host's staging of the same version stays). */
  unstage(id: string, stage: string): Promise<void>;
  /** The id a new store's first version takes: the next one, not reserved (hosts beginning the store at once all get it; `begin` keeps one). */
  firstVersionId(): Promise<string>;
  /**
   * A new store's first version `v` (its blobs kept already) and deployment `first`, kept in one
   * step only while no deployment is active; else the one another host made meanwhile (`mine`
   * false), and `v` is not kept. Hosts started at the same moment on an empty store serve one v1.
   */
  begin(v: VersionRecord, first: NewDeployment): Promise<{ active: Deployment; mine: boolean }>;
  /** Calls `onChange` when a secret record is set or deleted, by any host (and once after each reconnect). */
  followSecrets(onChange: () => void): void;
  state(): StoreState;
  /** The revision of the newest active deployment this host has seen (followed or read), if any. */
  seenRevision(): number | undefined;
  /** Keep this host's record, bound to a lease: it goes away when the host stops renewing it. */
  announce(record: HostRecord): Promise<void>;
  /** The id of the record this host announced (undefined before it did). */
  hostId(): string | undefined;
  /** The records of the hosts alive now. */
  hosts(): Promise<HostRecord[]>;
  /** Stop following, and take this host's record away. */
  close(): Promise<void>;
}

export interface StagedVersion {
  id: string;
  files: Record<string, string>;
  /** This staging's own id: a host that loaded the version says so for it (HostRecord.prepared). */
  stage?: string;
}

export function isClusterStore(s: DeployStore): s is ClusterStore {
  return "follow" in s;
}
