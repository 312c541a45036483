/**
 * The two halves of swapping one function during `lanes dev`: bring up the new version fully
 * (compiled, one instance loaded and ready) before anything routes to it, and stop the old one
 * only after every request that reached it has its answer.
 */
import type { Logger } from "../log.ts";
import type { FunctionSpec } from "../manifest/load.ts";
import type { StackMapper } from "../sourcemap/stack.ts";
import type { Served } from "./served.ts";
import type { Host } from "./host.ts";

export type Attempt = { ok: true; served: Served; unchanged: boolean } | { ok: false; error: string };

/**
 * Compile and start `spec`. `ok: false` carries the error as `file:line:column: message` where
 * the location is known. The pool's own start-failure lines ("retrying in ...") are held back:
 * a trial that fails is thrown away, not retried, and the caller reports it once.
 */
export async function bringUp(host: Host, spec: FunctionSpec, old: Served | undefined, log: Logger, mapper: StackMapper): Promise<Attempt> {
  const gate = heldLogger(log);
  const served = await host.build(spec, gate.log);
  const same = old?.pool && served.pool && old.version === served.version && old.secretStamp === served.secretStamp;
  if (same && JSON.stringify(old.spec) === JSON.stringify(spec)) {
    await served.pool!.stop(0); // same bytes, same settings, same secrets: nothing to swap
    return { ok: true, served: old, unchanged: true };
  }
  return startTrial(served, gate, mapper);
}

/**
 * Start a built function's first instance (or `instances.min`) before anything routes to it.
 * A trial that fails is stopped and its error returned; its pool's log lines are held back.
 * Also the deployer's: a version is loaded in its lanes with this before it is switched to.
 */
export async function startTrial(served: Served, gate: HeldLogger, mapper?: StackMapper): Promise<Attempt> {
  const { spec, pool } = served;
  if (!pool || !served.compiled) {
    const cause = served.error?.cause;
    return { ok: false, error: cause instanceof Error ? cause.message : (served.error?.message ?? "failed to compile") };
  }
  await mapper?.add(served.compiled.file); // before it runs: a load error's stack maps too
  await pool.warm(Math.max(1, spec.instances.min));
  if (pool.live() === 0) {
    const err = pool.startError;
    await pool.stop(0);
    const at = err?.guestStack ? mapper?.firstUserFrame(err.guestStack) : undefined;
    return { ok: false, error: `${spec.name}: ${at ? `${at}: ` : ""}${err?.message ?? "no instance could start"}` };
  }
  gate.open();
  return { ok: true, served, unchanged: false };
}

/** Stop `served`'s pool once no request is inside it any more (bounded by its timeout). */
export async function retire(served: Served): Promise<void> {
  const pool = served.pool;
  if (!pool) return;
  const deadline = Date.now() + served.spec.timeoutMs + 1000;
  // `active` covers requests still reading their body or queued in the pool; instance
  // `inflight` covers response bodies still streaming after invoke returned.
  while ((served.active > 0 || pool.instances.some((i) => i.inflight > 0)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  await pool.stop(Math.max(0, deadline - Date.now()));
  served.bodyReads?.clear();
}

export interface HeldLogger {
  log: Logger;
  open(): void;
}

/** A logger that drops host lines until `open()`; the function's own console lines always pass. */
export function heldLogger(base: Logger): HeldLogger {
  let open = false;
  return {
    log: {
      info: (m) => open && base.info(m),
      warn: (m) => open && base.warn(m),
      error: (m) => open && base.error(m),
      fn: (name, level, text, requestId) => base.fn(name, level, text, requestId),
      dropped: (name, lines) => base.dropped(name, lines),
    },
    open: () => void (open = true),
  };
}
