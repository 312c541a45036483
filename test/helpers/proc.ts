/** What a host process runs, read from Linux /proc. */
import { readdirSync, readFileSync } from "node:fs";

/** Process-lane instances a host runs now: its child processes running the guest (Linux /proc). */
export function guestChildren(pid: number): number[] {
  const pids = new Set<number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").split(/\s+/)) if (c) pids.add(Number(c));
    } catch {
      // the thread ended while we looked
    }
  }
  return [...pids].filter((c) => {
    try {
      return readFileSync(`/proc/${c}/cmdline`, "utf8").includes("guest-child");
    } catch {
      return false;
    }
  });
}
