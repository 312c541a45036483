/**
 * Deploy, promote and roll back on a running host, one at a time. Each follows the steps of
 * `lanes dev`'s reload (reload-build.ts), for a whole version:
 *   1. bring the version up next to what serves now: every function compiled and started in
 *      its lane (unchanged ones share their instances); if one fails, nothing changes;
 *   2. keep it in the store: files, then the version record, then the active deployment;
 *   3. switch every route at once (one assignment of the routing the front reads);
 *   4. requests already in the old version finish there, then its instances stop.
 */
import { checkIfVersion, describeDeployment, previousVersion, sha256Hex, type Deployment } from "../deploy/model.ts";
import type { Upload } from "../deploy/upload.ts";
import { LanesError } from "../errors.ts";
import { keepDeploy, switchResult, type DeployerOptions, type SwitchResult } from "./deployer-types.ts";
import type { Served } from "./served.ts";
import type { Host } from "./host-types.ts";
import { Prepared, staging, type EverywhereOptions, type OwnSwitches } from "./prepared.ts";
import { retire } from "./reload-build.ts";
import { ReleaseFolders } from "./release-folders.ts";
import type { SecretValues } from "../secrets/values.ts";
import { adoptRelease, bringUpRelease, changedFunctions, restoreRelease, storedFiles, writeRelease, type Release, type ReleaseContext } from "./release.ts";
import { releaseFolder, sameFiles } from "./release-id.ts";
import { restartServing, withReplaced, type RestartResult } from "./restart.ts";
import { buildRouting, type Routing } from "./routing.ts";
import { autoRollBack } from "./auto-rollback-retry.ts";
import { dropRemovedCopies, foldersRunFrom, heldUpload } from "./prune.ts";
import { Halt } from "./deploy-halt.ts";

export type { DeployerOptions, SwitchResult } from "./deployer-types.ts";

export class Deployer {
  /** Read by the front for every request; replaced, never changed. */
  routing!: Routing;
  /** Told after every switch, whoever made it (a shared store's host record follows it). */
  onSwitch: (d: Deployment, switchMs: number) => void = () => {};
  /** The newest deployment made elsewhere that `follow` was given. */
  private wanted = 0;
  private readonly prepared = new Prepared((r) => this.stopUnused(r));
  /** Versions this host switches to now (prepared.ts, OwnSwitches). */
  private readonly own: OwnSwitches = new Map();
  private releases = new Map<string, Release>();
  private chain: Promise<unknown> = Promise.resolve();
  private readonly retiring = new Set<Served>();
  private readonly halted = new Halt<Release>((r) => this.stopUnused(r));
  private readonly ctx: ReleaseContext;
  private readonly folders: ReleaseFolders;

  private constructor(private readonly o: DeployerOptions) {
    this.ctx = { host: o.host, adapter: o.adapter, log: o.log, runDir: o.runDir, ...(o.secrets ? { secrets: o.secrets } : {}) };
    const [versionInUse, served] = [(id: string) => this.copiesInUse().has(id), () => [...this.liveServed(), ...this.retiring]];
    this.folders = new ReleaseFolders({ sys: o.adapter.sys, runDir: o.runDir, log: o.log, versionInUse, served, afterSweep: () => dropRemovedCopies(o, this.copiesInUse) });
  }

  /** The host it deploys on. */
  get host(): Host {
    return this.o.host;
  }

  /** Take over a host started on the active deployment's stable version (written in `stableDir`). */
  static async attach(o: DeployerOptions, active: Deployment, stableDir: string): Promise<Deployer> {
    const d = new Deployer(o);
    const stable = adoptRelease(d.ctx, active.stable, stableDir, await storedFiles(o.store, active.stable));
    let canary: Release | undefined;
    if (active.canary) canary = await restoreRelease(d.ctx, d.o.store, active.canary.version, stable.served, false);
    d.switchTo(active, stable, canary);
    return d;
  }

  get active(): Deployment {
    return this.routing.deployment;
  }

  deploy(u: Upload, author: string): Promise<SwitchResult> {
    return this.serial(async () => {
      const [t0, active] = [performance.now(), this.active];
      checkIfVersion(u.ifVersion, active);
      this.halted.check(active, "the deploy");
      const id = await this.o.store.nextVersionId();
      const hashes = Object.fromEntries(await Promise.all([...u.files].map(async ([path, bytes]) => [path, await sha256Hex(bytes)] as const)));
      return heldUpload(this.o, id, hashes, () => this.upload(u, author, id, hashes, active, t0), this.copiesInUse);
    });
  }

  /** A deploy's upload of version `id`, from writing its files out to its switch. */
  private async upload(u: Upload, author: string, id: string, hashes: Record<string, string>, active: Deployment, t0: number): Promise<SwitchResult> {
    const dir = await writeRelease(this.o.adapter.sys, this.o.runDir, id, u.files);
    const staged = staging(this.o.store, this.own, id, this.o.othersMs);
    let release: Release;
    try {
      release = await this.halted.guard(active, `the deploy of version ${id}`, async (onBuilt) => {
        const bring = () => bringUpRelease({ ...this.ctx, onBuilt }, id, dir, hashes, this.liveServed(), true);
        return staged ? staged.load(u.files, hashes, bring) : bring();
      });
    } catch (e) {
      await this.o.adapter.sys.remove(dir);
      await staged?.end();
      throw e;
    }
    const stable = this.releases.get(active.stable)!;
    const base = u.percent === 100 ? (this.releases.get(active.canary?.version ?? "") ?? stable) : stable;
    const changed = changedFunctions(base, release);
    let t1 = performance.now();
    try {
      if (staged) await this.halted.during(active, `the deploy of version ${id}`, (stopped) => staged.everywhere(active.revision, this.waitingFor(id, stopped)));
      t1 = performance.now();
      const d = await keepDeploy(this.o.store, u, author, id, hashes, active, changed);
      this.switchTo(d, u.percent === 100 ? release : stable, u.percent === 100 ? undefined : release);
    } catch (e) {
      await this.stopUnused(release);
      throw e;
    } finally {
      void staged?.end();
    }
    return this.result(release, changed, t0, t1);
  }

  promote(author: string, ifVersion: string | null): Promise<SwitchResult> {
    return this.serial(async () => {
      const [t0, active] = [performance.now(), this.active];
      checkIfVersion(ifVersion, active);
      this.halted.check(active, "the promote");
      if (!active.canary) throw new LanesError("conflict", `nothing to promote: the active deployment is ${describeDeployment(active)}, not a gradual one`);
      const release = this.releases.get(active.canary.version)!;
      const d = await this.o.store.activate({ createdAt: new Date().toISOString(), author, reason: "promote", message: null, stable: release.id, canary: null }, active.revision);
      this.switchTo(d, release, undefined);
      return this.result(release, active.canary.changed, t0, t0);
    });
  }

  /** `auto`: the auto-rollback of the deployment with that revision (nothing happens if it is no longer active). */
  rollback(author: string, version: string | null, ifVersion: string | null, auto?: { revision: number; why: string }): Promise<SwitchResult> {
    return this.serial(async () => {
      const [t0, active] = [performance.now(), this.active];
      checkIfVersion(ifVersion, active);
      if (auto && active.revision !== auto.revision) throw new LanesError("conflict", `deployment ${auto.revision} is no longer active`);
      const target = version ?? previousVersion(active, await this.o.store.history());
      if (!target) throw new LanesError("conflict", `no earlier version to roll back to (the active deployment is ${describeDeployment(active)})`);
      if (target === active.stable && !active.canary) throw new LanesError("conflict", `${target} is already serving every request`);
      // a version no longer running: the other hosts of a shared store bring it up meanwhile, all from the files staged
      const files = this.releases.has(target) ? undefined : await storedFiles(this.o.store, target);
      const staged = files && staging(this.o.store, this.own, target, this.o.othersMs);
      let release: Release;
      try {
        release = await this.halted.guard(active, `the rollback to ${target}`, async (onBuilt) => {
          // taken if another host's rollback to it has it loading here (prepare), not written again into that folder under it
          const restore = () => restoreRelease({ ...this.ctx, onBuilt }, this.o.store, target, this.liveServed(), true, files);
          const bring = async () => this.releases.get(target) ?? (await this.prepared.take(target, files!)) ?? (await restore());
          return staged ? staged.load(new Map(), files!, bring) : bring();
        });
      } catch (e) {
        await staged?.end();
        throw e;
      }
      let t1 = performance.now();
      const current = this.releases.get(active.canary?.version ?? active.stable)!;
      try {
        if (staged) await this.halted.during(active, `the rollback to ${target}`, (stopped) => staged.everywhere(active.revision, this.waitingFor(target, stopped)));
        t1 = performance.now();
        const [reason, message] = auto ? (["auto-rollback", `auto-rollback: ${auto.why}`] as const) : (["rollback", null] as const);
        const d = await this.o.store.activate({ createdAt: new Date().toISOString(), author, reason, message, stable: target, canary: null }, active.revision);
        this.switchTo(d, release, undefined);
      } catch (e) {
        await this.stopUnused(release);
        throw e;
      } finally {
        void staged?.end();
      }
      return this.result(release, changedFunctions(current, release), t0, t1);
    });
  }

  /**
   * Switch to `d`, made active by another host of a shared store, as a deploy does (taking what runs or was prepared with
   * the same files). Skipped (undefined) if not newer than what serves (`anew`, of a history the store began after it lost
   * this host's: whatever its revision), or overtaken meanwhile. If a version does not load here, nothing changes and the error says why.
   */
  follow(d: Deployment, anew = false): Promise<SwitchResult | undefined> {
    this.wanted = anew ? d.revision : Math.max(this.wanted, d.revision);
    return this.serial(async () => {
      if ((!anew && d.revision <= this.active.revision) || d.revision < this.wanted) return undefined;
      const t0 = performance.now();
      const started: Release[] = [];
      const bring = async (id: string) => {
        const files = await storedFiles(this.o.store, id);
        const running = this.releases.get(id);
        if (running && sameFiles(running.hashes, files)) return running;
        const live = [...this.liveServed(), ...started.flatMap((x) => x.served)];
        const r = (await this.prepared.take(id, files)) ?? (await restoreRelease(this.ctx, this.o.store, id, live, true, files, releaseFolder(this.releases, id)));
        started.push(r);
        return r;
      };
      try {
        const stable = await bring(d.stable);
        const canary = d.canary ? await bring(d.canary.version) : undefined;
        const t1 = performance.now();
        const before = this.releases.get(this.active.canary?.version ?? this.active.stable)!;
        this.switchTo(d, stable, canary);
        return this.result(canary ?? stable, changedFunctions(before, canary ?? stable), t0, t1);
      } catch (e) {
        for (const r of started) await this.stopUnused(r);
        throw e;
      }
    });
  }

  /** Bring up a version another host of the shared store is deploying (it waits for this: loadedEverywhere). */
  prepare(id: string, files: Record<string, string>): Promise<void> | undefined {
    if (this.own.has(id)) return this.own.get(id)?.then(() => {});
    const running = this.releases.get(id);
    if (running && sameFiles(running.hashes, files)) return Promise.resolve();
    const release = this.prepared.peek(id) ?? restoreRelease(this.ctx, this.o.store, id, this.liveServed(), true, files, releaseFolder(this.releases, id));
    this.prepared.add(id, release);
    return release.then(() => {});
  }

  /** The functions serving now, each once (a function both versions of a gradual deployment share, once). */
  get serving(): Served[] {
    return this.liveServed();
  }

  /** Run `fn` alone: no deploy, promote, rollback (or other `exclusive` call) meanwhile. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.serial(fn);
  }

  /** Inside `exclusive`: restart `which` onto `values`, as a deploy switches (see restartServing). */
  restart(which: Served[], values: SecretValues, commit: () => Promise<void>): Promise<RestartResult> {
    const versionOf = (s: Served) => [...this.releases.values()].find((r) => r.served.includes(s))?.id;
    return restartServing(this.ctx, which, versionOf, values, commit, (replaced) => {
      const a = this.active;
      const canary = a.canary ? withReplaced(this.releases.get(a.canary.version)!, replaced) : undefined;
      this.switchTo(a, withReplaced(this.releases.get(a.stable)!, replaced), canary);
    });
  }

  /** The copies `runDir/<name>` something this host runs or prepares works out of (prune.ts, CopiesInUse). */
  readonly copiesInUse = (): Set<string> => new Set([...this.prepared.ids(), ...foldersRunFrom(this.o, [...this.releases.values()], [...this.liveServed(), ...this.retiring])]);

  /** The host stops: a deploy or rollback still loading its version ends now, answered 503 with nothing changed (deploy-halt.ts). */
  readonly halt = (): void => this.halted.halt();

  /** How a switch to `id` waits for the other hosts: told when the host stops, and saying so in the log when it waits. */
  private waitingFor(id: string, stopped: () => boolean): EverywhereOptions {
    const waiting = (hosts: number, ms: number) =>
      this.o.log.info(`version ${id} loaded here; the switch waits up to ${ms / 1000} s for ${hosts} other host(s) to load it (lanes start --cluster-wait)`);
    return { stopped, waiting };
  }

  /** Stop the versions that were switched away from and still finish requests. */
  async stopRetiring(graceMs: number): Promise<void> {
    await Promise.all([...this.retiring].map((s) => s.pool?.stop(graceMs, { finishWaitUntil: true })));
  }

  private switchTo(d: Deployment, stable: Release, canary: Release | undefined) {
    const before = new Set(this.liveServed());
    const replaced = [...this.releases.values()];
    this.releases = new Map([[stable.id, stable], ...(canary ? ([[canary.id, canary]] as const) : [])]);
    this.routing = buildRouting(this.o.host, d, stable, canary, {
      ...(this.o.onRequest ? { onRequest: this.o.onRequest } : {}),
      onVerdict: (routing, verdict) => autoRollBack(routing.deployment, verdict, this, this.o.log),
    });
    const now = this.liveServed();
    // host.functions: what the host stops when it stops
    this.o.host.route(now, stable.manifest);
    for (const s of now) before.delete(s);
    for (const old of before) this.retiring.add(old);
    const retired = [...before].map((old) => retire(old).finally(() => this.retiring.delete(old)));
    this.folders.after(replaced, retired, (fn) => this.serial(fn));
  }

  private liveServed(): Served[] {
    const all = new Set<Served>();
    for (const r of this.releases.values()) for (const s of r.served) all.add(s);
    return [...all];
  }

  /** A release that did not become active: stop what it started and nothing else uses. */
  private async stopUnused(release: Release) {
    const live = new Set(this.liveServed());
    await Promise.all(release.served.filter((s) => !live.has(s)).map((s) => s.pool?.stop(0)));
  }

  private result(release: Release, changed: string[], t0: number, t1: number): SwitchResult {
    const a = this.active;
    const r = switchResult(a, release, changed, t0, t1);
    this.onSwitch(a, Math.round(performance.now() - t0));
    this.prepared.sweep(a);
    // after this switch, before the next: a copy is never removed while a deploy writes it
    void this.serial(() => dropRemovedCopies(this.o, this.copiesInUse));
    const what = `changed: ${changed.join(", ") || "none"}; loaded in ${r.loadMs} ms, switched in ${r.switchMs} ms`;
    this.o.log.info(`deployment ${a.revision} (${a.reason} by ${a.author}): ${describeDeployment(a)}; ${what}`);
    return r;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => {});
    return run;
  }
}
