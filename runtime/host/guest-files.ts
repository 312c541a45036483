/**
 * The guests' compiled files (the isolate worker, the process-lane child and its snapshot entry,
 * the packed worker), built into the compile cache when a host starts. Someone who frees disk by
 * emptying that folder under a running host took them away, and every instance started after
 * that failed for good: 503s from every process-lane function, and a log line a second from
 * the spares (README, The compile cache). So each start looks for them first and builds them
 * again when one is gone, at the same paths (a bundle is named by its content).
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { compile } from "../compile.ts";
import type { Logger } from "../log.ts";

export interface Guests {
  worker: string;
  child: string;
  childSnapshot: string;
  pack: string;
}

/** Where the guest entry points live, as paths (no node:url in the core). */
function sourcePath(relative: string): string {
  return decodeURIComponent(new URL(relative, import.meta.url).pathname);
}

export async function compileGuests(adapter: RuntimeAdapter): Promise<Guests> {
  const [worker, child, childSnapshot, pack] = await Promise.all([
    compile(sourcePath("../guest/worker-main.ts"), adapter.sys, "guest-worker", { inRoot: true }),
    compile(sourcePath("../guest/child-main.ts"), adapter.sys, "guest-child", { inRoot: true }),
    // node children start restored from a startup snapshot of this (adapters/node-snapshot.ts)
    compile(sourcePath("../../adapters/child-snapshot-main.ts"), adapter.sys, "guest-child-snapshot", { format: "cjs", inRoot: true }),
    compile(sourcePath("../guest/pack-main.ts"), adapter.sys, "guest-pack", { inRoot: true }),
  ]);
  return { worker: worker.file, child: child.file, childSnapshot: childSnapshot.file, pack: pack.file };
}

/** Resolves once every guest file is there: at once (four stats), or after building them again. */
export function guestFilesKeeper(adapter: RuntimeAdapter, guests: Guests, log: Logger): () => Promise<void> {
  let building: Promise<void> | undefined;
  const rebuild = async () => {
    log.warn("the guests' compiled files are gone from the compile cache (removed while the host runs); building them again");
    // (the folder itself, if it went too, is made again private by each compile)
    const again = await compileGuests(adapter);
    for (const k of Object.keys(guests) as (keyof Guests)[]) {
      if (again[k] !== guests[k]) log.error(`the guest ${k} was built again as ${again[k]}, not ${guests[k]}: restart the host`);
    }
  };
  return async () => {
    const there = await Promise.all(Object.values(guests).map((f) => adapter.sys.exists(f)));
    if (there.every(Boolean)) return;
    building ??= rebuild().finally(() => (building = undefined));
    await building;
  };
}
