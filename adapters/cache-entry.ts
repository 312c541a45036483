/**
 * Something the host makes once in its cache folder, in the background, the first time it is
 * asked for: a Node child's startup snapshot (node-snapshot.ts), the Deno children's home
 * (deno-home.ts). Its path once made; undefined while it is being made, or when making it failed
 * (it is not tried again by this process). A made one notes its use in its modification time at
 * most hourly (as runtime/cache-trim.ts notes any entry: a trim removes what is unused for a
 * week), and one removed meanwhile (by a trim, or by hand) is made again. One an earlier host
 * made is found at once (`madeAlready`): the first child of a host that starts with a warm cache
 * uses it, instead of waiting for this process to look in the background.
 */
import { statSync, utimesSync } from "node:fs";

/** An entry in use has its modification time set to now once it is older than this. */
const NOTE_EVERY_MS = 3_600_000;

type State = { path: string } | "making" | "unusable";
const states = new Map<string, State>();

export function madeInBackground(key: string, make: () => Promise<string>, madeAlready?: () => string | undefined): string | undefined {
  if (!states.has(key)) {
    const path = madeAlready?.();
    if (path !== undefined) states.set(key, { path });
  }
  const state = states.get(key);
  if (typeof state === "object") {
    // one stat a child start, a write an hour at most
    const modified = statSync(state.path, { throwIfNoEntry: false })?.mtimeMs;
    if (modified !== undefined) {
      if (Date.now() - modified > NOTE_EVERY_MS) noteUse(state.path);
      return state.path;
    }
    states.delete(key); // removed: made again, and meanwhile not used
    return madeInBackground(key, make);
  }
  if (state === undefined) {
    states.set(key, "making");
    void make().then(
      (path) => states.set(key, { path }),
      () => states.set(key, "unusable"),
    );
  }
  return undefined;
}

function noteUse(path: string): void {
  try {
    const now = Date.now() / 1000;
    utimesSync(path, now, now);
  } catch {
    // gone between the look and the write: the next start finds it missing
  }
}
