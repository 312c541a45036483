/**
 * Versions brought up ahead of their switch, on a host of a shared store: another host stages a
 * version as it starts loading it (etcd-store.ts `stage`), and this one loads it at the same
 * time, so that when the deployment switches it only has to swap its routing. A prepared
 * version that does not become active (its deploy failed or lost the race) is stopped once a
 * newer deployment is active, or after a while.
 */
import type { Release } from "./release.ts";

/** How long a prepared version may wait for its deployment. */
const KEEP_MS = 60_000;

export class Prepared {
  private readonly ready = new Map<string, { release: Promise<Release>; at: number }>();

  /** `stop`: stop what a release alone runs. */
  constructor(private readonly stop: (r: Release) => Promise<void>) {}

  has(id: string): boolean {
    return this.ready.has(id);
  }

  add(id: string, release: Promise<Release>): void {
    // a version that does not load here is loaded again (and its error reported) by the switch
    release.catch(() => this.ready.get(id)?.release === release && this.ready.delete(id));
    this.ready.set(id, { release, at: Date.now() });
    const t = setTimeout(() => this.sweep(Infinity, () => 0), KEEP_MS + 1000);
    (t as { unref?: () => void }).unref?.();
  }

  /** The prepared release of `id` (no longer kept here: the caller owns it now). */
  take(id: string): Promise<Release> | undefined {
    const p = this.ready.get(id);
    this.ready.delete(id);
    return p?.release;
  }

  /** Drop what waited too long, or is not newer than `newest` (a version number). */
  sweep(newest: number, number: (id: string) => number): void {
    for (const [id, p] of this.ready) {
      if (number(id) > newest && Date.now() - p.at < KEEP_MS) continue;
      this.ready.delete(id);
      void p.release.then(this.stop, () => {});
    }
  }
}
