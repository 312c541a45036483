/** How an instance ended, in words for people: exit code, signal, out of memory. */
import type { GuestExit } from "../../adapters/types.ts";
import { LanesError } from "../errors.ts";
import { MAX_THREADS } from "./watchdog.ts";

/** The exit a packed function gets when its worker ended because of something else (runtime/pack/). */
export const PACK_RECYCLED = "ERR_LANES_PACK_RECYCLED";

export function describeExit(exit: GuestExit): string {
  // before the signal: a runtime refused a thread of its own may abort, which reads as out of memory
  if (exit.refusedTasks) return `ended after it tried to run more than the ${MAX_THREADS} threads a process-lane child may run (its pids cgroup refused ${exit.refusedTasks})`;
  if (exit.error?.code === "ERR_WORKER_OUT_OF_MEMORY" || /out of memory|heap limit/i.test(exit.stderrTail)) {
    return "ran out of memory";
  }
  // node children abort (SIGABRT) and deno children trap (SIGTRAP) at their heap flag
  if (exit.signal === "SIGABRT" || exit.signal === "SIGTRAP") return `ran out of memory (${exit.signal})`;
  if (exit.signal) return `was killed by ${exit.signal}`;
  if (exit.error) return `crashed: ${exit.error.message}`;
  return `exited with code ${exit.code}`;
}

/**
 * How an instance ended, as a metric label: `out_of_memory`, `signal` (killed), `error` (the
 * runtime reported one), `thread_limit` (its pids cgroup had refused it a thread) or `exit` (it
 * exited by itself).
 */
export function exitCause(exit: GuestExit): string {
  if (exit.refusedTasks) return "thread_limit";
  const oom = describeExit(exit).startsWith("ran out of memory");
  return oom ? "out_of_memory" : exit.signal ? "signal" : exit.error ? "error" : "exit";
}

/** A failed start (`when`: or right after it). The child's stderr goes to the host log (guestStack), never to a client. */
export function startError(exit: GuestExit, why?: string, when = "while starting"): LanesError {
  const tail = exit.stderrTail.trim();
  return new LanesError("unavailable", `instance ${why ?? describeExit(exit)} ${when}`, tail ? { guestStack: tail } : {});
}

/** An instance that dies on its own this soon after starting, before any request, is a failed start. */
const CRASH_LOOP_MS = 2000;

/**
 * It died by itself within CRASH_LOOP_MS of becoming ready (at `readyAt`): a failed start, so a
 * crash loop backs off. Not a packed function whose worker a neighbour took down (PACK_RECYCLED).
 */
export function diedRightAfterStart(readyAt: number, exit: GuestExit): boolean {
  return Date.now() - readyAt < CRASH_LOOP_MS && exit.error?.code !== PACK_RECYCLED;
}
