/**
 * Shutdown waits for the ctx.waitUntil work of each instance, as Workers do, but only within the
 * grace it has; then it says what it cut.
 */
import type { Logger } from "../log.ts";
import type { Instance } from "./instance.ts";

const STATS_WAIT_MS = 250;
const sleep = (ms: number) => new Promise<"late">((r) => setTimeout(() => r("late"), Math.max(0, ms)));

/**
 * Resolves once `inst` of function `name` has no pending waitUntil promise, or at `deadline`,
 * after logging which requests' waitUntil work it cut.
 */
export async function finishWaitUntil(inst: Instance, deadline: number, name: string, log: Logger): Promise<void> {
  const cut = await pendingAt(inst, deadline);
  if (cut.length === 0) return;
  log.warn(
    `${name}: instance ${inst.id} stopped with ${cut.length} ctx.waitUntil task(s) unfinished ` + `(request ${[...new Set(cut)].join(", ")}): the grace to finish them ran out`,
  );
}

/** The request ids of the waitUntil promises still pending at `deadline` (none if all finished or the instance is gone). */
async function pendingAt(inst: Instance, deadline: number): Promise<string[]> {
  if (inst.state === "dead") return [];
  const done = await Promise.race([inst.control.drain().then(() => "done" as const), sleep(deadline - Date.now())]);
  if (done === "done" || (inst.state as Instance["state"]) === "dead") return [];
  const stats = await Promise.race([inst.control.stats(), sleep(STATS_WAIT_MS)]);
  return stats === "late" ? ["(unknown: the instance did not answer)"] : stats.waitUntil;
}
