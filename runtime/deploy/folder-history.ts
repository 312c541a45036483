/**
 * The deployments of a folder store (DIR/deployments/<rev>.json, folder-store.ts), newest first,
 * as its host holds them. Retention removes the oldest past HISTORY_KEPT (retention.ts); the
 * next revision follows the active deployment's, which is never removed, so none comes twice.
 */
import type { Sys } from "../../adapters/types.ts";
import { HISTORY_KEPT, type Deployment } from "./model.ts";

export class FolderHistory {
  private newestFirst: Deployment[] = [];

  constructor(
    private readonly sys: Sys,
    private readonly folder: string,
    private readonly readJson: <T>(file: string) => Promise<T>,
  ) {}

  private file(revision: number): string {
    return this.sys.join(this.folder, `${revision}.json`);
  }

  /** Read them, up to the active deployment's `revision`. */
  async load(revision: number): Promise<void> {
    for (const name of await this.sys.list(this.folder)) {
      const rev = Number(name.replace(/\.json$/, ""));
      // a record written by a deploy that was killed before its switch never became active
      if (!name.endsWith(".json") || !(rev >= 1 && rev <= revision)) continue;
      this.newestFirst.push(await this.readJson<Deployment>(this.file(rev)));
    }
    this.newestFirst.sort((a, b) => b.revision - a.revision);
  }

  /** `d` became active. */
  add(d: Deployment): void {
    this.newestFirst.unshift(d);
  }

  list(limit = HISTORY_KEPT): Deployment[] {
    return this.newestFirst.slice(0, limit);
  }

  /**
   * Remove those older than revision `before`, oldest first. Not durably: one a crash brings back
   * is as old as the rest, and goes with the next prune.
   */
  async removeBefore(before: number): Promise<void> {
    for (let last = this.newestFirst.at(-1); last && last.revision < before; last = this.newestFirst.at(-1)) {
      await this.sys.remove(this.file(last.revision));
      this.newestFirst.pop();
    }
  }
}
