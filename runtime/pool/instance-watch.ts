/**
 * What the pool watches in its instances between requests: memory (watchdog.ts), and CPU loops
 * that no request's deadline would catch. Work a function starts after its answer (a timer, a
 * promise it did not await) is bounded by timeoutMs like its requests: an instance with no
 * request in flight is pinged every timeoutMs (at least every second), and one that misses two
 * pings in a row, spinning for longer than timeoutMs with nothing to do, is stopped as in a CPU
 * loop. A function that answered 200 and then spun in a setTimeout kept a core busy for as long
 * as its instance lived.
 */
import type { Logger } from "../log.ts";
import type { FunctionSpec } from "../manifest/load.ts";
import type { Instance } from "./instance.ts";
import { LIVENESS_MS } from "./stuck.ts";
import { watchMemory } from "./watchdog.ts";

/** Starts both watches; returns the function that stops them. `stopsSpin`: as in PoolDeps. */
export function watchInstances(instances: readonly Instance[], spec: FunctionSpec, deps: { log: Logger; stopsSpin?: boolean }): () => void {
  const stop =
    (kind: "memory_limit" | "cpu_loop") =>
    (inst: Instance, why: string, cause: string = kind) => {
      deps.log.error(`${spec.name}: instance ${inst.id} ${why}; stopping it`);
      void inst.fail(why, cause);
    };
  const stopMemory = watchMemory(instances, spec, stop("memory_limit"));
  // a Deno worker's thread keeps spinning when stopped: the request path's check counts it
  // leaked; an instance paused in a debugger (lanes dev --inspect) answers no ping either
  const stopSpin = deps.stopsSpin === false || spec.inspect ? () => {} : watchIdleSpin(instances, Math.max(1000, spec.timeoutMs), stop("cpu_loop"));
  return () => {
    stopMemory();
    stopSpin();
  };
}

function watchIdleSpin(instances: readonly Instance[], periodMs: number, spinning: (inst: Instance, why: string) => void): () => void {
  const missed = new WeakMap<Instance, number>();
  const idle = (inst: Instance) => inst.state === "ready" && inst.inflight === 0;
  const timer = setInterval(() => {
    for (const inst of instances) {
      if (!idle(inst) || inst.isProbing) {
        missed.delete(inst);
        continue;
      }
      void inst.probe(LIVENESS_MS).then((alive) => {
        if (alive || !idle(inst)) return void missed.delete(inst);
        const times = (missed.get(inst) ?? 0) + 1;
        missed.set(inst, times);
        if (times >= 2) spinning(inst, `did not respond to a ping twice, ${periodMs} ms apart, with no request in flight (a CPU loop after its answer?)`);
      });
    }
  }, periodMs);
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}
