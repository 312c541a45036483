/**
 * Shutdown waits for the ctx.waitUntil work of each instance, as Workers do, but only within the
 * grace it has; then it says what it cut.
 */
import { within } from "../within.ts";
import type { Logger } from "../log.ts";
import type { Instance } from "./instance.ts";

const STATS_WAIT_MS = 250;

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

/**
 * The request ids of the waitUntil promises still pending at `deadline`: none if all finished,
 * the instance is gone, or it never had a request (only a request starts waitUntil work, and the
 * start-up load check's instances have none: asking them kept a stop waiting out its grace).
 */
async function pendingAt(inst: Instance, deadline: number): Promise<string[]> {
  if (inst.state === "dead" || inst.dispatched === 0) return [];
  const done = await within(
    inst.control.drain().then(() => "done" as const),
    deadline - Date.now(),
  );
  if (done === "done" || (inst.state as Instance["state"]) === "dead") return [];
  const stats = await within(inst.control.stats(), STATS_WAIT_MS);
  return stats === "late" ? ["(unknown: the instance did not answer)"] : stats.waitUntil;
}
