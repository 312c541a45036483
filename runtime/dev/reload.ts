/**
 * `lanes dev`'s live reload. Watches the manifest, every file each function was built from
 * (esbuild's metafile) and the manifest's folder with the folders under it (a file a failing
 * function's import or entry needs may appear anywhere there), and on a change swaps only what changed:
 *   1. bring the new version up next to the old one (compiled, an instance loaded and ready);
 *   2. swap the router in one assignment: new requests go to the new version;
 *   3. requests already in the old one finish there, then its instances stop.
 * A manifest or a function that does not compile or load keeps the last good version serving,
 * and its error is printed once. A change to the local secret files (.env, .dev.vars,
 * --env-file) reloads the functions whose secret values changed, the same way.
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { limitWarnings } from "../capabilities.ts";
import { isolationReport } from "../isolation.ts";
import { isLanesError, LanesError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { loadManifest, type FunctionSpec, type Manifest } from "../manifest/load.ts";
import type { EnvFiles } from "../secrets/env-files.ts";
import { adjusted } from "./inspect.ts";
import type { StackMapper } from "../sourcemap/stack.ts";
import type { Served } from "../host/served.ts";
import type { Host } from "../host/host.ts";
import { refuseGrantedOwnFiles } from "../host/own-files.ts";
import { bringUp, retire, type Attempt } from "../host/reload-build.ts";
import { Watcher } from "./watch.ts";

const SOURCE_FILE = /\.(m?[jt]sx?|c[jt]s|json)$/;
const MANIFEST_KEY = "(manifest)";
const ENV_KEY = "(secret files)";

export interface ReloadOptions {
  debounceMs?: number;
  /** The local secret files, read again when one changes. */
  envFiles?: EnvFiles;
  /** `lanes dev --inspect`: applied to every spec of a reloaded manifest, as at start-up. */
  adjust?: (spec: FunctionSpec) => FunctionSpec;
}

export class Reloader {
  private readonly watcher: Watcher;
  private chain: Promise<void> = Promise.resolve();
  private readonly queued = new Set<string>();
  /** Last error printed per function (and for the manifest): the same error is printed once. */
  private readonly shown = new Map<string, string>();
  /** Functions whose newest code failed; any source change near them retries them. */
  private readonly failing = new Set<string>();
  /** Replaced versions still finishing the requests they had. */
  private readonly retiring = new Set<Served>();
  private manifestBroken = false;
  private stopped = false;

  constructor(
    private readonly host: Host,
    private readonly adapter: RuntimeAdapter,
    private readonly log: Logger,
    private readonly mapper: StackMapper,
    private readonly o: ReloadOptions = {},
  ) {
    this.watcher = new Watcher(adapter.sys, (paths) => this.enqueue(paths), o.debounceMs);
  }

  async start(): Promise<void> {
    for (const s of this.host.functions) {
      if (s.compiled) await this.mapper.add(s.compiled.file);
      if (s.error) this.failing.add(s.spec.name);
    }
    this.rewatch();
  }

  /** Stop watching and let a reload under way finish (its result is routed, so the host stops it). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher.stop();
    await this.chain;
  }

  /** Stop the replaced versions still finishing requests, giving those `graceMs`. */
  async stopRetiring(graceMs: number): Promise<void> {
    await Promise.all([...this.retiring].map((s) => s.pool?.stop(graceMs)));
  }

  private rewatch() {
    const { manifest, functions } = this.host;
    const paths = [manifest.file, manifest.dir, ...(this.o.envFiles?.paths ?? [])];
    for (const s of functions) paths.push(...(s.compiled?.inputs ?? [s.spec.entry]));
    this.watcher.watch(paths);
  }

  private enqueue(paths: Set<string>) {
    for (const p of paths) this.queued.add(p);
    this.chain = this.chain.then(async () => {
      if (this.stopped || this.queued.size === 0) return;
      const batch = new Set(this.queued);
      this.queued.clear();
      try {
        await this.apply(batch);
      } catch (e) {
        this.log.error(`reload failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
      if (!this.stopped) this.rewatch();
    });
  }

  private async apply(paths: Set<string>) {
    const t0 = performance.now();
    const touchedSource = [...paths].some((p) => SOURCE_FILE.test(p));
    let manifest: Manifest | undefined;
    if (paths.has(this.host.manifest.file) || (this.manifestBroken && touchedSource)) {
      manifest = await this.loadManifest();
    }
    const secrets = await this.readEnvFiles(paths);
    const current = new Map(this.host.functions.map((s) => [s.spec.name, s]));
    const specs = manifest ? manifest.functions : this.host.functions.map((s) => s.spec);
    const touches = (s: Served) => (s.compiled?.inputs ?? [s.spec.entry]).some((p) => paths.has(p));
    // its secrets' values changed, or one it lacked has a value now
    const newValues = (s: Served) => secrets && (s.secretStamp ?? "(none)") !== secrets.stampOf(s.spec);

    const plans = specs.map(async (spec): Promise<{ spec: FunctionSpec; old?: Served; attempt?: Attempt }> => {
      const old = current.get(spec.name);
      const retry = this.failing.has(spec.name) && (touchedSource || Boolean(secrets));
      if (old && JSON.stringify(old.spec) === JSON.stringify(spec) && !touches(old) && !retry && !newValues(old)) return { spec, old };
      if (!old || JSON.stringify(old.spec) !== JSON.stringify(spec)) {
        for (const w of limitWarnings(spec, this.adapter)) this.log.warn(w);
        for (const w of isolationReport([spec], this.adapter).warnings) this.log.warn(w);
      }
      return { spec, ...(old ? { old } : {}), attempt: await bringUp(this.host, spec, old, this.log, this.mapper) };
    });
    const results = await Promise.all(plans);

    const next: Served[] = [];
    const replaced: Served[] = [];
    const notes: string[] = [];
    for (const { spec, old, attempt } of results) {
      if (!attempt) {
        next.push(old!);
        continue;
      }
      if (!attempt.ok) {
        this.failing.add(spec.name);
        const keep = old && !old.error ? old : undefined;
        this.report(spec.name, `${attempt.error}${keep ? ` (still serving the last good version, ${keep.version})` : ""}`);
        next.push(keep ?? (await this.host.build(spec))); // no good version yet: it answers 503 with the error
        if (old && !keep) replaced.push(old);
        continue;
      }
      const recovered = this.failing.delete(spec.name);
      this.shown.delete(spec.name);
      next.push(attempt.served);
      if (attempt.unchanged) {
        if (recovered) notes.push(`${spec.name} builds again: serving ${attempt.served.version}, as before`);
        continue;
      }
      if (old) replaced.push(old);
      notes.push(describeChange(old, attempt.served));
    }
    const names = new Set(specs.map((s) => s.name));
    for (const [name, old] of current) {
      if (names.has(name)) continue;
      replaced.push(old);
      notes.push(`removed ${name}`);
    }
    if (replaced.length > 0 || manifest) this.host.route(next, manifest ?? this.host.manifest);
    const ms = Math.round(performance.now() - t0);
    for (const n of notes) this.log.info(`${n} (${ms} ms)`);
    for (const old of replaced) {
      this.retiring.add(old);
      void retire(old).finally(() => this.retiring.delete(old));
    }
  }

  /** When a secret file changed: read them again and return the values (undefined: none changed, or they cannot be read). */
  private async readEnvFiles(paths: Set<string>) {
    const files = this.o.envFiles;
    if (!files?.paths.some((p) => paths.has(p))) return undefined;
    try {
      const changed = await files.read();
      this.shown.delete(ENV_KEY);
      if (changed.length > 0) this.log.info(`secret values changed: ${changed.join(", ")}`);
      return changed.length > 0 ? files.current : undefined;
    } catch (e) {
      this.report(ENV_KEY, `${(e as Error).message} (still using the values read before)`);
      return undefined;
    }
  }

  private async loadManifest(): Promise<Manifest | undefined> {
    try {
      const m = adjusted(await loadManifest(this.host.manifest.dir, this.adapter.sys, this.adapter.name), this.o.adjust);
      const refused = isolationReport(m.functions, this.adapter).errors;
      if (refused.length > 0) throw new LanesError("sandbox_unavailable", `${m.file}: ${refused.join("\n  ")}`);
      if (this.o.envFiles) await refuseGrantedOwnFiles(m, this.o.envFiles.ownFiles, this.adapter.sys);
      for (const w of m.warnings) this.log.warn(w);
      this.manifestBroken = false;
      this.shown.delete(MANIFEST_KEY);
      return m;
    } catch (e) {
      this.manifestBroken = true;
      const msg = isLanesError(e) || e instanceof Error ? e.message : String(e);
      this.report(MANIFEST_KEY, `${msg}\n  (still serving the last good manifest)`);
      return undefined;
    }
  }

  private report(key: string, text: string) {
    if (this.shown.get(key) === text) return;
    this.shown.set(key, text);
    this.log.error(text);
  }
}

function describeChange(old: Served | undefined, next: Served): string {
  const { spec } = next;
  const where = `${spec.lane}${spec.lane === "process" ? `/${spec.runtime}` : ""}`;
  if (!old) return `added ${spec.name} (${where}) ${spec.route}`;
  const changes: string[] = [];
  if (old.version !== next.version) changes.push(`${old.version || "broken"} -> ${next.version}`);
  if (old.spec.lane !== spec.lane || old.spec.runtime !== spec.runtime) changes.push(`lane -> ${where}`);
  if (old.spec.route !== spec.route) changes.push(`route -> ${spec.route}`);
  if (old.secretStamp !== next.secretStamp) changes.push("new secret values");
  return `reloaded ${spec.name} (${where})${changes.length ? `: ${changes.join(", ")}` : ""}`;
}
