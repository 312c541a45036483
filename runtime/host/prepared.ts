/**
 * Versions brought up ahead of their switch, on a host of a shared store: another host stages a
 * version as it starts loading it (etcd-store.ts `stage`), and this one loads it at the same
 * time, so that when the deployment switches it only has to swap its routing. A prepared
 * version that does not become active (its deploy failed or lost the race) is stopped once a
 * newer deployment is active, or after a while.
 */
import { isClusterStore, type ClusterStore, type DeployStore } from "../deploy/store.ts";
import { versionNumber, versionsOf, type Deployment, type HostRecord } from "../deploy/model.ts";
import { LanesError } from "../errors.ts";
import type { Release } from "./release.ts";
import { sameFiles } from "./release-id.ts";

/** How long a deploy waits for the other hosts to load its version before it switches anyway (`lanes start --cluster-wait`). */
export const DEFAULT_OTHERS_MS = 10_000;

/**
 * Before a deploy switches: wait until every other live host has loaded the staged version, so
 * all of them switch at once; refuse the deploy (nothing changes) if it did not load on one. A
 * host that takes longer than `othersMs` (or cannot reach the store) follows once it can. The
 * wait ends at once when a deployment after `from` (the one this deploy replaces) becomes active:
 * a concurrent deploy won, and the switch's compare answers 409 now instead of after `othersMs`
 * (the other hosts, loading the winner, would never all load this one). It ends too once
 * `o.stopped` (the host stops: the deploy is answered, deploy-halt.ts), and tells `o.waiting` how
 * many hosts it waits for, once, if any.
 */
export async function loadedEverywhere(store: ClusterStore, id: string, stage: string, from: number, othersMs = DEFAULT_OTHERS_MS, o: EverywhereOptions = {}): Promise<void> {
  const end = Date.now() + othersMs;
  let told = false;
  // a host's record of this version from an earlier staging (its release stopped since) does not count
  const answered = (h: HostRecord) => h.prepared?.version === id && h.prepared.stage === stage;
  for (;;) {
    const others = (await store.hosts()).filter((h) => h.id !== store.hostId());
    const failed = others.filter((h) => answered(h) && h.prepared!.error !== null);
    if (failed.length > 0) {
      const said = (e: string) =>
        e
          .replace(/^version not deployed, nothing changed: /, "")
          .split("\n")
          .join("\n    ");
      const why = failed.map((h) => `${h.url} (${h.runtime}): ${said(h.prepared!.error!)}`).join("\n  ");
      throw new LanesError("load_failed", `version not deployed, nothing changed: it did not load on ${failed.length} other host(s):\n  ${why}`);
    }
    if (others.every(answered) || Date.now() > end || (store.seenRevision() ?? 0) > from || o.stopped?.()) return;
    if (!told) o.waiting?.(others.filter((h) => !answered(h)).length, othersMs);
    told = true;
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface EverywhereOptions {
  stopped?: () => boolean;
  waiting?: (hosts: number, othersMs: number) => void;
}

/**
 * The versions this host switches to now, each with its own loading once begun: it ignores its
 * own stage notices, and answers another host's staging of one of them (two rollbacks to one
 * version at once) once its own loading is done, as the other waits for it (loadedEverywhere).
 */
export type OwnSwitches = Map<string, Promise<unknown> | undefined>;

/** A switch on a shared store (undefined for a host's own store): the version staged for the others, then cleared. */
export function staging(store: DeployStore, own: OwnSwitches, id: string, othersMs?: number): Staging | undefined {
  return isClusterStore(store) ? new Staging(store, own, id, othersMs) : undefined;
}

export class Staging {
  /** This staging's id, which the other hosts' records name once they loaded the version for it. */
  readonly stageId = crypto.randomUUID();

  constructor(
    private readonly store: ClusterStore,
    private readonly own: OwnSwitches,
    private readonly id: string,
    private readonly othersMs?: number,
  ) {
    own.set(id, undefined);
  }

  /** Keep the files and tell the other hosts: they load the version while this one does. */
  stage(files: Map<string, Uint8Array>, hashes: Record<string, string>): Promise<void> {
    return this.store.stage(this.id, files, hashes, this.stageId);
  }

  /** `stage`, then `load` the version here while the others do. */
  load<T>(files: Map<string, Uint8Array>, hashes: Record<string, string>, load: () => Promise<T>): Promise<T> {
    const loaded = this.stage(files, hashes).then(load);
    this.own.set(this.id, loaded);
    return loaded;
  }

  /** `from`: the revision of the deployment this switch replaces. */
  everywhere(from: number, o?: EverywhereOptions): Promise<void> {
    return loadedEverywhere(this.store, this.id, this.stageId, from, this.othersMs, o);
  }

  async end(): Promise<void> {
    this.own.delete(this.id);
    await this.unstage(0);
  }

  /**
   * The notice is on this host's lease, which lives as long as the host: one left because the
   * store was away would have every host started later load the version, and keep its files from
   * sweeps, for good. Tried again (1 s, 2 s, ... 30 s apart) until it is gone.
   */
  private async unstage(attempt: number): Promise<void> {
    try {
      await this.store.unstage(this.id, this.stageId);
    } catch {
      const t = setTimeout(() => void this.unstage(attempt + 1), Math.min(1000 * 2 ** attempt, 30_000));
      (t as { unref?: () => void }).unref?.();
    }
  }
}

/** How long a prepared version may wait for its deployment. */
const KEEP_MS = 60_000;

export class Prepared {
  private readonly ready = new Map<string, { release: Promise<Release>; at: number }>();

  /** `stop`: stop what a release alone runs. */
  constructor(private readonly stop: (r: Release) => Promise<void>) {}

  /** The release being prepared for `id`, left here. */
  peek(id: string): Promise<Release> | undefined {
    return this.ready.get(id)?.release;
  }

  /** The versions being prepared (their copies are in use). */
  ids(): string[] {
    return [...this.ready.keys()];
  }

  add(id: string, release: Promise<Release>): void {
    if (this.ready.get(id)?.release === release) return;
    // a version that does not load here is loaded again (and its error reported) by the switch
    release.catch(() => this.ready.get(id)?.release === release && this.ready.delete(id));
    this.ready.set(id, { release, at: Date.now() });
    const t = setTimeout(() => this.sweep(null), KEEP_MS + 1000);
    (t as { unref?: () => void }).unref?.();
  }

  /**
   * The prepared release of `id` if it loaded with `files` (no longer kept here: the caller owns
   * it now). One of other files (an id a store that lost its data hands out again) is stopped.
   */
  async take(id: string, files: Record<string, string>): Promise<Release | undefined> {
    const p = this.ready.get(id);
    this.ready.delete(id);
    const release = await p?.release.catch(() => undefined);
    if (!release || sameFiles(release.hashes, files)) return release;
    await this.stop(release);
    return undefined;
  }

  /** Drop what waited too long and, after a switch to `active`, what is not newer than what it serves. */
  sweep(active: Deployment | null): void {
    const newest = active ? Math.max(...versionsOf(active).map(versionNumber)) : -Infinity;
    for (const [id, p] of this.ready) {
      if (versionNumber(id) > newest && Date.now() - p.at < KEEP_MS) continue;
      this.ready.delete(id);
      void p.release.then(this.stop, () => {});
    }
  }
}
