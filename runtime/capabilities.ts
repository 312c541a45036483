/**
 * What lanes can enforce for a function, given the host runtime and the function's lane. Where
 * a runtime cannot enforce a limit, lanes says so instead of pretending (DESIGN.md).
 */
import type { RuntimeAdapter } from "../adapters/types.ts";
import type { FunctionSpec } from "./manifest/load.ts";

export type Enforcement = "enforced" | "not enforced";

export interface Limits {
  /** memoryMb */
  heap: Enforcement;
  /** timeoutMs answers 504 in time */
  wallClock: Enforcement;
  /** a function stuck in a CPU loop is stopped and its thread/process reclaimed */
  cpuSpin: Enforcement;
  /** per-instance permissions (file system, network) */
  permissions: "deno flags" | "none";
}

export function limitsFor(spec: FunctionSpec, adapter: RuntimeAdapter): Limits {
  if (spec.lane === "process") {
    return {
      heap: "enforced", // heap flag on node/deno, RSS watchdog on bun
      wallClock: "enforced",
      cpuSpin: "enforced", // SIGKILL
      permissions: spec.runtime === "deno" ? "deno flags" : "none",
    };
  }
  return {
    heap: adapter.caps.workerHeapLimit ? "enforced" : "not enforced",
    wallClock: "enforced",
    cpuSpin: adapter.caps.terminateStopsSpin ? "enforced" : "not enforced",
    permissions: "none",
  };
}

/** One line per limit this host cannot enforce for this function, with what to do about it. */
export function limitWarnings(spec: FunctionSpec, adapter: RuntimeAdapter): string[] {
  const l = limitsFor(spec, adapter);
  const out: string[] = [];
  const fix = `set "lane": "process" for ${spec.name} to enforce it (the process lane enforces limits on every runtime)`;
  if (l.heap === "not enforced") {
    out.push(`${spec.name}: memoryMb (${spec.memoryMb}) is not enforced in the isolate lane on ${adapter.name} (it ignores worker heap limits); ${fix}`);
  }
  if (l.cpuSpin === "not enforced") {
    out.push(
      `${spec.name}: a CPU loop past timeoutMs cannot be stopped in the isolate lane on ${adapter.name} (terminate() leaves the thread spinning, denoland/deno#35657); the request still gets its 504; ${fix}`,
    );
  }
  return out;
}
