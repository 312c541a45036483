/**
 * Versions and deployments, and the rules about them that every store backend shares.
 *
 * A **version** is immutable: the manifest and the function files of one upload, each file
 * kept once under the SHA-256 of its bytes, with who made it, when, and why. A **deployment**
 * says which versions serve traffic: one at 100%, or, during a gradual deployment, a stable
 * version and a new one that gets `percent`% of the requests. The store keeps the newest
 * HISTORY_KEPT deployments in its history and one active deployment, whose `revision` grows by
 * one with every switch; a switch is a compare-and-swap on that revision.
 */
import { LanesError } from "../errors.ts";

export interface VersionRecord {
  /** "v1", "v2", ...: short, so people can type them (`lanes rollback v3`). */
  id: string;
  /** ISO 8601. */
  createdAt: string;
  tag: string | null;
  message: string | null;
  /** The name of the admin token that uploaded it ("lanes" for the folder a new store starts from). */
  author: string;
  /** Every file of the version, by relative path: the SHA-256 (hex) of its bytes. */
  files: Record<string, string>;
  /** SHA-256 over the sorted path/hash pairs: two versions with the same content have the same digest. */
  digest: string;
}

export type DeploymentReason = "initial" | "deploy" | "promote" | "rollback" | "auto-rollback";

export interface Canary {
  version: string;
  /** Share of requests (1-99) the new version gets. */
  percent: number;
  /** The functions whose code or settings differ from the stable version's. */
  changed: string[];
  /** Roll back by itself when the new version's 5xx rate is clearly worse (see auto-rollback.ts). */
  autoRollback: boolean;
}

export interface Deployment {
  /** The active record's revision when this deployment became active; its number in the history. */
  revision: number;
  createdAt: string;
  author: string;
  reason: DeploymentReason;
  message: string | null;
  /** The version that serves every request, or the stable side of a gradual deployment. */
  stable: string;
  canary: Canary | null;
}

/** What one host of a cluster says about itself (kept in the shared store while it lives). */
export interface HostRecord {
  /** Unique per host process. */
  id: string;
  /** Where other machines reach it (`lanes start --advertise URL`). */
  url: string;
  runtime: string;
  runtimeVersion: string;
  startedAt: string;
  /** The deployment it serves, and its versions. */
  revision: number;
  serving: string;
  /** When it switched to that deployment, and how long the switch took on this host once it knew of it. */
  switchedAt: string;
  switchMs: number | null;
  /** A deployment it is bringing up now. */
  loading: { revision: number; since: string } | null;
  /** The last deployment it could not switch to, and why (it kept serving the one above). */
  failed: { revision: number; error: string } | null;
  /**
   * The last version another host staged that this one loaded ahead of its switch (error: it did
   * not load here), and which staging that was (`StagedVersion.stage`): a record left from an
   * earlier staging of the same version says nothing of this one.
   */
  prepared: { version: string; stage?: string; error: string | null } | null;
  /**
   * Its secrets: null when it has no key file; undefined from a host older than this field.
   * `keyIds` are the ids of the keys it has (crypto.ts: a fingerprint kept with every sealed
   * value, never the key), so a host setting a secret sees which hosts cannot open it;
   * `unreadable` names the store's secrets it cannot open (names only) and `error` says why.
   */
  secrets?: HostSecrets | null;
}

export interface HostSecrets {
  keyIds: string[];
  unreadable: string[];
  error: string | null;
}

/**
 * How many deployments a store keeps, newest first, and lists (`lanes versions`, the console):
 * retention removes the older ones (retention.ts). The active one is the newest, and the one
 * `lanes rollback` goes back to (previousVersion) is looked for among these, so both stay; the
 * next revision follows the active one's, so none is used twice.
 */
export const HISTORY_KEPT = 100;

export const VERSION_ID = /^v[1-9][0-9]{0,8}$/;

export function versionId(n: number): string {
  return `v${n}`;
}

export function versionNumber(id: string): number {
  return VERSION_ID.test(id) ? Number(id.slice(1)) : 0;
}

/** The versions a deployment serves. */
export function versionsOf(d: Deployment): string[] {
  return d.canary ? [d.stable, d.canary.version] : [d.stable];
}

/**
 * What `--if-version` is compared with: the version the deployment is moving to (the new one
 * of a gradual deployment, otherwise the only one).
 */
export function currentVersion(d: Deployment): string {
  return d.canary?.version ?? d.stable;
}

/** "v3" or "v3 70% / v4 30%". */
export function describeDeployment(d: Deployment): string {
  if (!d.canary) return `${d.stable} 100%`;
  return `${d.stable} ${100 - d.canary.percent}% / ${d.canary.version} ${d.canary.percent}%`;
}

/** 409 unless the active deployment's current version is `expected` (when given). */
export function checkIfVersion(expected: string | null | undefined, active: Deployment): void {
  if (!expected) return;
  const now = currentVersion(active);
  if (now !== expected) {
    throw new LanesError("conflict", `ifVersion: the active version is ${now}, not ${expected}; nothing was changed`);
  }
}

/**
 * Where `lanes rollback` without a version goes: from a gradual deployment, back to its stable
 * version; otherwise to the version that served 100% before the current one (`history` newest
 * first, the active deployment included).
 */
export function previousVersion(active: Deployment, history: Deployment[]): string | undefined {
  if (active.canary) return active.stable;
  for (const d of history) {
    if (d.revision >= active.revision || d.canary) continue;
    if (d.stable !== active.stable) return d.stable;
  }
  return undefined;
}

/** SHA-256 of bytes as lowercase hex (WebCrypto, the same on every host runtime). */
export async function sha256Hex(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

export async function contentDigest(files: Record<string, string>): Promise<string> {
  const lines = Object.keys(files)
    .sort()
    .map((p) => `${files[p]}  ${p}\n`);
  return sha256Hex(lines.join(""));
}
