/**
 * The folders of the releases a host no longer serves (`<data>/run/<id>`). Every deploy, promote
 * and rollback writes one, and only a host that started again removed them, so a host that took
 * deploys for months kept them all (8 files, 44 KB per deploy of five small functions). Once the
 * instances a switch retired have stopped, the folder of a replaced release is removed, unless a
 * function that still serves or is retiring was loaded from it (an unchanged function keeps
 * the instances, and so the folder, of the version that first brought it) or its version is
 * served or being brought up again. What a function wrote under a write grant goes with it, as it
 * does when the host starts again.
 */
import type { Sys } from "../../adapters/types.ts";
import type { Logger } from "../log.ts";
import type { Release } from "./release.ts";
import type { Served } from "./served.ts";

export class ReleaseFolders {
  /** Replaced releases whose folder is still there, by version id. */
  private readonly waiting = new Map<string, Release>();

  constructor(
    private readonly o: {
      sys: Sys;
      runDir: string;
      log: Logger;
      /** The version is served, or being brought up (its folder is written again then). */
      versionInUse: (id: string) => boolean;
      /** The functions serving or retiring. */
      served: () => Served[];
      /** After each sweep: the copies of versions the store no longer holds that nothing runs from (prune.ts). */
      afterSweep: () => Promise<void>;
    },
  ) {}

  /** A switch replaced `replaced`; `retired`: its retiring instances stopping. `serial` runs the sweep between deploys. */
  after(replaced: Iterable<Release>, retired: Promise<unknown>[], serial: (fn: () => Promise<void>) => Promise<void>): void {
    // only what the host wrote itself: never a folder it was started on
    for (const r of replaced) if (r.dir.startsWith(`${this.o.runDir}/`)) this.waiting.set(r.id, r);
    void Promise.allSettled(retired).then(() => serial(() => this.sweep()).catch((e: unknown) => this.o.log.warn(`release folders: ${String(e)}`)));
  }

  private async sweep(): Promise<void> {
    for (const [id, r] of this.waiting) {
      const name = r.dir.slice(this.o.runDir.length + 1).split("/")[0]!; // <id>, or <id>.<random> (release-id.ts)
      if (this.o.versionInUse(id) || this.o.versionInUse(name) || this.o.served().some((s) => s.spec.dir === r.manifest.dir)) continue;
      this.waiting.delete(id);
      await this.o.sys.remove(r.dir).catch((e: unknown) => this.o.log.warn(`the folder of version ${id} (${r.dir}) could not be removed: ${String(e)}`));
    }
    await this.o.afterSweep();
  }
}
