/** What a deploy, promote, rollback or follow answers, what a Deployer is made of, and what a deploy keeps in the store. */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { contentDigest, type Deployment, type VersionRecord } from "../deploy/model.ts";
import type { DeployStore, NewDeployment } from "../deploy/store.ts";
import type { Upload } from "../deploy/upload.ts";
import type { Logger } from "../log.ts";
import type { SecretValues } from "../secrets/values.ts";
import type { Host } from "./host.ts";
import type { RequestLog } from "./served.ts";

export interface SwitchResult {
  deployment: Deployment;
  /** The version that is new or now serves. */
  version: string;
  changed: string[];
  unchanged: string[];
  /** Writing, loading and starting the version's functions. */
  loadMs: number;
  /** Keeping it in the store and switching the routes. */
  switchMs: number;
  /** A deploy: the versions retention removed after it (`--keep-versions`). */
  pruned?: string[];
}

export interface DeployerOptions {
  host: Host;
  adapter: RuntimeAdapter;
  store: DeployStore;
  log: Logger;
  runDir: string;
  onRequest?: (entry: RequestLog) => void;
  /** The secret values functions get now (undefined: this host keeps none). */
  secrets?: () => SecretValues | undefined;
  /** On a shared store: how long a deploy waits for the other hosts to load its version (default 10 s). */
  othersMs?: number;
  /** `--keep-versions`: how many of the newest versions a deploy leaves in the store (retention.ts). */
  keepVersions?: number;
}

/** What a switch answers: `release` serves in `d` now; started at `t0`, loaded at `t1`. */
export function switchResult(d: Deployment, release: { id: string; served: { spec: { name: string } }[] }, changed: string[], t0: number, t1: number): SwitchResult {
  const unchanged = release.served.map((s) => s.spec.name).filter((n) => !changed.includes(n));
  return { deployment: d, version: release.id, changed, unchanged, loadMs: Math.round(t1 - t0), switchMs: Math.round(performance.now() - t1) };
}

/** Step 2 of a deploy (deployer.ts): version `id`'s files, then its record, then the deployment made active (if `active` still is). */
export async function keepDeploy(
  store: DeployStore,
  u: Upload,
  author: string,
  id: string,
  hashes: Record<string, string>,
  active: Deployment,
  changed: string[],
): Promise<Deployment> {
  for (const bytes of u.files.values()) await store.putBlob(bytes);
  const record: VersionRecord = { id, createdAt: new Date().toISOString(), tag: u.tag, message: u.message, author, files: hashes, digest: await contentDigest(hashes) };
  await store.putVersion(record);
  const next: NewDeployment = {
    createdAt: record.createdAt,
    author,
    reason: "deploy",
    message: u.message,
    stable: u.percent === 100 ? id : active.stable,
    canary: u.percent === 100 ? null : { version: id, percent: u.percent, changed, autoRollback: u.autoRollback },
  };
  return store.activate(next, active.revision);
}
