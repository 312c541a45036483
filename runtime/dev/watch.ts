/**
 * Watches the files `lanes dev` depends on and reports them in batches. One save is several
 * file system events (truncate, write, often a rename from a temp file) within a few ms, so
 * events are collected until the folder has been quiet for `debounceMs`.
 */
import type { Sys } from "../../adapters/types.ts";

export class Watcher {
  private stopWatching: () => void = () => {};
  private watched = "";
  private readonly pending = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly sys: Sys,
    private readonly onBatch: (paths: Set<string>) => void,
    private readonly debounceMs = 30,
  ) {}

  /** Watch exactly these paths from now on (call after every rebuild: imports change). */
  watch(paths: Iterable<string>): void {
    const list = [...new Set(paths)].sort();
    const key = list.join("\n");
    if (key === this.watched) return;
    this.watched = key;
    // start the new watches before closing the old ones, so no save falls in between
    const stopOld = this.stopWatching;
    this.stopWatching = this.sys.watch(list, (p) => this.event(p));
    stopOld();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.stopWatching();
    this.stopWatching = () => {};
  }

  private event(path: string) {
    this.pending.add(path);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const batch = new Set(this.pending);
      this.pending.clear();
      this.onBatch(batch);
    }, this.debounceMs);
  }
}
