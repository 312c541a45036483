/**
 * A request ran past its deadline (its client has its 504). The guest cannot be interrupted
 * from outside, so its pool takes the instance out of the rotation and replaces it; a ping then
 * tells what it is doing: one that answers is only waiting on a promise that never settles, so
 * its other requests may finish first; one that does not is stuck in a CPU loop and is stopped now.
 */
import type { Logger } from "../log.ts";
import type { FunctionSpec } from "../manifest/load.ts";
import type { PoolObserver } from "../ops/meter.ts";
import type { Instance } from "./instance.ts";

/**
 * How long an instance whose request ran past its deadline gets to answer a ping. Any instance
 * whose event loop turns answers in well under a millisecond; one in a CPU loop never does.
 */
export const LIVENESS_MS = 500;

interface StuckDeps {
  log: Logger;
  observer?: PoolObserver;
  /** Stopping an instance also stops a CPU loop in it (false: Deno workers, runtime/pool/pool.ts). */
  stopsSpin?: boolean;
}

/** The pool's counts (/_lanes/functions): instances replaced, and threads that could not be stopped. */
interface StuckCounts {
  restarts: number;
  leaked: number;
}

/** Probe `inst` (already out of the rotation) and stop it if it spins. */
export function checkStuck(inst: Instance, spec: FunctionSpec, deps: StuckDeps, counts: StuckCounts): void {
  void inst.probe(LIVENESS_MS).then((alive) => {
    if (inst.state === "dead") return;
    if (!alive) return stopSpinning(inst, spec, deps, counts);
    deps.log.warn(`${spec.name}: a request ran past timeoutMs (${spec.timeoutMs} ms); instance ${inst.id} is replaced once its ${inst.inflight} other request(s) finish`);
    // a restart, as the metrics' cause "timeout" counts it: /_lanes/functions says the same
    counts.restarts++;
    deps.observer?.lost("timeout", false);
    if (inst.inflight === 0) void inst.stop();
  });
}

function stopSpinning(inst: Instance, spec: FunctionSpec, deps: StuckDeps, counts: StuckCounts): void {
  const why = `was stopped: it did not respond for ${LIVENESS_MS} ms after a request ran past timeoutMs (a CPU loop?)`;
  if (deps.stopsSpin === false) {
    const leaked = ++counts.leaked;
    deps.log.error(
      `${spec.name}: instance ${inst.id} is stuck in a CPU loop and this runtime cannot stop a spinning worker ` +
        `(denoland/deno#35657): its thread is leaked (${leaked} so far) and gets no more requests. ` +
        `Set "lane": "process" for ${spec.name} so a stuck instance can be killed.`,
    );
  }
  void inst.fail(why, "cpu_loop"); // its exit is logged as a crash, with `why`
}
