/**
 * Watch a folder and every folder under it but node_modules and dot-folders (.git, .lanes), one
 * non-recursive watch per folder. `fs.watch(dir, { recursive: true })` works on Linux in all
 * three runtimes but watches node_modules too, with no way to leave a folder out
 * (README.md in this folder, Files).
 */
import { readdirSync, statSync, watch, type FSWatcher } from "node:fs";
import * as path from "node:path";

const IGNORED = (name: string) => name === "node_modules" || name.startsWith(".");

/** Report every entry created, changed or removed under `root`, by its full path. */
export function watchTree(root: string, onChange: (path: string) => void): () => void {
  const watchers = new Map<string, FSWatcher>();
  let stopped = false;

  const add = (dir: string, appeared: boolean) => {
    if (stopped || watchers.has(dir)) return;
    let w: FSWatcher;
    try {
      w = watch(dir, (_event, name) => {
        if (name == null) return onChange(dir); // the runtime did not say which entry
        const full = path.join(dir, String(name));
        onChange(full);
        if (watchers.has(full) && !isDirectory(full)) drop(full);
        else if (!IGNORED(path.basename(full)) && isDirectory(full)) add(full, true);
      });
    } catch {
      return; // gone already; its parent's watch adds it if it comes back
    }
    w.on("error", () => drop(dir));
    watchers.set(dir, w);
    // after the watch starts, so nothing created meanwhile is missed
    let entries: { name: string; isDirectory(): boolean }[] = [];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {}
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!IGNORED(e.name)) add(full, appeared);
      } else if (appeared) {
        // written before this folder's watch began (`mkdir util && echo ... > util/x.ts`)
        onChange(full);
      }
    }
  };
  const drop = (dir: string) => {
    for (const [d, w] of watchers) {
      if (d === dir || d.startsWith(dir + path.sep)) {
        w.close();
        watchers.delete(d);
      }
    }
  };

  add(root, false);
  return () => {
    stopped = true;
    for (const w of watchers.values()) w.close();
    watchers.clear();
  };
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
