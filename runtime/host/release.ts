/**
 * A release: one version brought up on this host. Its files are written to a folder of their
 * own (`<data>/run/<id>/`, rebuilt from the store at every start), its manifest is loaded and
 * checked there like any folder's, and each function is compiled and started in its lane before
 * anything routes to it. A function whose bundle (and every file it imports) and settings are
 * the same as one already serving is not started again: the release shares that instance pool.
 */
import type { RuntimeAdapter, Sys } from "../../adapters/types.ts";
import { grantedFolders } from "../deploy/granted.ts";
import { removedMeanwhile } from "../deploy/retention.ts";
import type { DeployStore } from "../deploy/store.ts";
import { LanesError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { loadManifest, type FunctionSpec, type Manifest } from "../manifest/load.ts";
import type { Served } from "./served.ts";
import type { Host } from "./host.ts";
import { KEPT_WARM } from "./load-check.ts";
import { heldLogger, startTrial } from "./reload-build.ts";
import { functionEnv, NO_SECRETS_HERE, type SecretValues } from "../secrets/values.ts";

export interface Release {
  id: string;
  dir: string;
  /** Its files' hashes, by relative path (the version record's). */
  hashes: Record<string, string>;
  manifest: Manifest;
  served: Served[];
  /** Function name: its fingerprint (what makes two versions of it the same). */
  fingerprints: Map<string, string>;
}

export interface ReleaseContext {
  host: Host;
  adapter: RuntimeAdapter;
  log: Logger;
  /** Where releases are written: `<data>/run`. */
  runDir: string;
  /** The secret values functions get now; undefined: this host keeps none. */
  secrets?: () => SecretValues | undefined;
  /** Told of every function a release builds, so a host that stops can stop them (deploy-halt.ts). */
  onBuilt?: (s: Served) => void;
}

/** What decides whether a function changed: its settings, and the hash of every file it is built from. */
const fingerprints = new WeakMap<Served, string>();

export function fingerprintOf(served: Served, dir: string, hashes: Record<string, string>, ctx: ReleaseContext): string | undefined {
  if (!served.compiled) return undefined;
  const { sys } = ctx.adapter;
  const { entry: _entry, dir: _dir, ...settings } = served.spec;
  const inputs = served.compiled.inputs
    .map((p) => {
      const rel = sys.relative(dir, p);
      const hash = hashes[rel];
      // a file outside the release (a bare import the host resolved) is named by its path
      return hash ? `${rel}:${hash}` : `external:${p}`;
    })
    .sort();
  // a secret's new value makes it another function: `secretStamp` tells values apart without holding them
  return JSON.stringify({ settings, entry: sys.relative(dir, served.spec.entry), inputs, secrets: served.secretStamp ?? "" });
}

export function rememberFingerprint(served: Served, fp: string | undefined): void {
  if (fp !== undefined) fingerprints.set(served, fp);
}

/**
 * Write a version's files into its own folder under `runDir`, replacing what was there, and the
 * granted paths no file makes as empty folders (runtime/deploy/granted.ts). So each release has
 * its own copy of what the folder held when it was deployed: what a function writes under a
 * write grant stays in that release's folder, which the next start writes again from the store.
 */
export async function writeRelease(sys: Sys, runDir: string, id: string, files: Map<string, Uint8Array>): Promise<string> {
  const dir = sys.join(runDir, id);
  await sys.remove(dir);
  await sys.mkdirp(dir);
  for (const [path, bytes] of files) {
    const file = sys.join(dir, path);
    await sys.mkdirp(sys.dirname(file));
    await sys.writeFile(file, bytes);
  }
  for (const folder of grantedFolders(files)) await sys.mkdirp(sys.join(dir, folder));
  return dir;
}

/**
 * Load the version written in `dir` and bring up each function, sharing pools with `live`
 * where the fingerprint matches. `strict`: any function that does not compile or start makes
 * the whole release fail (a deploy); otherwise it is kept and answers 503 (a restart).
 */
export async function bringUpRelease(ctx: ReleaseContext, id: string, dir: string, hashes: Record<string, string>, live: Served[], strict: boolean): Promise<Release> {
  const hide = (msg: string) => msg.split(`${dir}/`).join("").split(dir).join(`(version ${id})`);
  let manifest: Manifest;
  try {
    manifest = await loadManifest(dir, ctx.adapter.sys, ctx.adapter.name);
  } catch (e) {
    if (e instanceof LanesError) throw new LanesError(e.code, hide(e.message));
    throw e;
  }
  if (strict) {
    const missing = missingSecrets(manifest.functions, ctx.secrets?.());
    if (missing.length > 0) {
      throw new LanesError("missing_secret", `version not deployed, nothing changed: ${missing.length} secret(s) it names have no value:\n  ${missing.join("\n  ")}`);
    }
  }
  const byFingerprint = new Map<string, Served>();
  for (const s of live) {
    const fp = fingerprints.get(s);
    if (fp && s.pool) byFingerprint.set(fp, s);
  }
  let kept = 0;
  const outcomes = await inTurns(manifest.functions, BRING_UP_AT_ONCE, async (spec: FunctionSpec) => {
    const gate = heldLogger(ctx.log);
    const built = await ctx.host.build(spec, gate.log, id);
    ctx.onBuilt?.(built);
    const fp = fingerprintOf(built, dir, hashes, ctx);
    const same = fp === undefined ? undefined : byFingerprint.get(fp);
    if (same) {
      await built.pool?.stop(0); // never started: only its timers go
      return { served: same, reused: true, error: undefined };
    }
    const attempt = await startTrial(built, gate);
    if (attempt.ok) {
      rememberFingerprint(built, fp);
      // nothing routes to it yet: past the first KEPT_WARM, its trial instance goes (instances.min stay)
      if (!spec.pack && built.pool!.live() > 0 && kept < KEPT_WARM) kept++;
      else await built.pool!.trim();
      return { served: built, reused: false, error: undefined };
    }
    const error = hide(attempt.error);
    // kept only by a restart: it answers 503 with why, as `lanes start` does for a broken function
    const broken: Served = { spec, error: new LanesError("unavailable", `function "${spec.name}" failed to load`), version: "", limits: built.limits, active: 0 };
    return { served: broken, reused: false, error };
  });
  const failed = outcomes.filter((o) => o.error !== undefined);
  if (failed.length > 0 && strict) {
    // (a failed trial stopped its own pool already)
    await Promise.all(outcomes.filter((o) => !o.reused).map((o) => o.served.pool?.stop(0)));
    throw new LanesError("load_failed", `version not deployed, nothing changed: ${failed.length} function(s) failed to load:\n  ${failed.map((o) => o.error).join("\n  ")}`);
  }
  for (const o of failed) ctx.log.error(`version ${id}: ${o.error}`);
  const release: Release = { id, dir, hashes, manifest, served: outcomes.map((o) => o.served), fingerprints: new Map() };
  for (const s of release.served) {
    const fp = fingerprints.get(s);
    if (fp) release.fingerprints.set(s.spec.name, fp);
  }
  return release;
}

/**
 * Functions a release compiles and tries at once. All of them at once, a deploy of 2,000 functions
 * started 2,000 isolate workers together: the host grew past 2.5 GB and answered no request for
 * minutes. In turns, and with only KEPT_WARM of them left running (as the start-up load check
 * leaves them), a deploy costs what a start does.
 */
const BRING_UP_AT_ONCE = 4;

/** `run` over `items`, at most `width` at a time, a turn of the event loop between two (requests go first); results in order. */
async function inTurns<T, R>(items: readonly T[], width: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) {
      out[i] = await run(items[i]!);
      await new Promise((r) => setTimeout(r, 0));
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
  return out;
}

/** The files of stored version `id` (by path: their hashes). */
export async function storedFiles(store: DeployStore, id: string): Promise<Record<string, string>> {
  const v = await store.getVersion(id);
  if (!v)
    throw new LanesError(
      "not_found",
      `no version ${id} in the store: it was never kept, or retention removed it, being older than the newest --keep-versions (see lanes versions for those kept)`,
    );
  return v.files;
}

/**
 * A version's files out of the store; one it no longer holds (a key deleted by hand, a damaged
 * blob) is named with its version, as the store names only a hash. A version whose record went
 * too was removed by retention on another host of a shared store after its files were named
 * here (a rollback's, or a staging's the other hosts load): a 404 saying so, not a store fault.
 */
export async function readFiles(store: DeployStore, id: string, named: Record<string, string>): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (const [path, hash] of Object.entries(named)) {
    const bytes = await store.getBlob(hash).catch(async (e: unknown) => {
      if ((await store.getVersion(id).catch(() => true)) === undefined) throw removedMeanwhile(id, store.location);
      const why = e instanceof Error ? e.message : String(e);
      throw new LanesError("internal", `version ${id} cannot be read from the store: its file ${path}: ${why}`, { cause: e });
    });
    files.set(path, bytes);
  }
  return files;
}

/**
 * Bring a stored version up again (a restart's gradual deployment, a rollback to a version no
 * longer running, a deployment another host made): its files (`hashes`, else its record's) out
 * of the store into its folder (`folder`, by default its id, under the run folder), then loaded as any release.
 */
export async function restoreRelease(
  ctx: ReleaseContext,
  store: DeployStore,
  id: string,
  live: Served[],
  strict: boolean,
  hashes?: Record<string, string>,
  folder = id,
): Promise<Release> {
  const named = hashes ?? (await storedFiles(store, id));
  const files = await readFiles(store, id, named);
  const dir = await writeRelease(ctx.adapter.sys, ctx.runDir, folder, files);
  return bringUpRelease(ctx, id, dir, named, live, strict);
}

/** The release the host itself started from `dir` (the stable version at start-up). */
export function adoptRelease(ctx: ReleaseContext, id: string, dir: string, hashes: Record<string, string>): Release {
  const { host } = ctx;
  const release: Release = { id, dir, hashes, manifest: host.manifest, served: host.functions, fingerprints: new Map() };
  for (const s of host.functions) {
    const fp = fingerprintOf(s, dir, hashes, ctx);
    rememberFingerprint(s, fp);
    if (fp) release.fingerprints.set(s.spec.name, fp);
  }
  return release;
}

/** Names of functions in `next` that are new or differ from `base`, then those of `base` that `next` removes. */
export function changedFunctions(base: Release, next: Release): string[] {
  const changed = next.served
    .map((s) => s.spec.name)
    .filter((name) => {
      const a = base.fingerprints.get(name);
      return a === undefined || a !== next.fingerprints.get(name);
    });
  // one the new version removes changes too: on the new version's share it answers 404
  const kept = new Set(next.served.map((s) => s.spec.name));
  return [...changed, ...base.served.map((s) => s.spec.name).filter((name) => !kept.has(name))];
}

/** One line per secret that `specs` name and `values` (undefined: none on this host) cannot give. */
function missingSecrets(specs: FunctionSpec[], values: SecretValues | undefined): string[] {
  if (values) return values.missing(specs);
  return specs.flatMap((spec) => {
    try {
      functionEnv(spec, undefined, NO_SECRETS_HERE);
      return [];
    } catch (e) {
      return [(e as Error).message];
    }
  });
}
