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

/**
 * One line per limit this host cannot enforce, naming every function it concerns and what to
 * do about it (the process lane enforces limits on every runtime). Empty when all is enforced.
 */
export function limitWarnings(specs: FunctionSpec | readonly FunctionSpec[], adapter: RuntimeAdapter): string[] {
  const heap: string[] = [];
  const spin: string[] = [];
  for (const spec of Array.isArray(specs) ? specs : [specs as FunctionSpec]) {
    const l = limitsFor(spec, adapter);
    if (l.heap === "not enforced") heap.push(spec.name);
    if (l.cpuSpin === "not enforced") spin.push(spec.name);
  }
  const fix = (names: string[]) => `to enforce it, set "lane": "process" for ${names.length === 1 ? "it" : "them"}`;
  const out: string[] = [];
  if (heap.length > 0) {
    out.push(
      `memoryMb is not enforced on ${adapter.name} in the isolate lane (it ignores worker heap limits) for: ${heap.join(", ")}; ${fix(heap)}`,
    );
  }
  if (spin.length > 0) {
    out.push(
      `a CPU loop cannot be stopped on ${adapter.name} in the isolate lane (terminate() leaves the thread spinning, denoland/deno#35657) for: ${spin.join(", ")}; ` +
        `such a request still gets its 504 but its thread leaks; ${fix(spin)}`,
    );
  }
  return out;
}
