/**
 * What lanes can enforce for a function, given the host runtime and the function's lane. Where
 * a runtime cannot enforce a limit, lanes says so instead of pretending (README, "What each host can enforce").
 */
import type { RuntimeAdapter } from "../adapters/types.ts";
import { sandboxed } from "./isolation.ts";
import type { FunctionSpec } from "./manifest/load.ts";

export type Enforcement = "enforced" | "not enforced";

export interface Limits {
  /** memoryMb */
  heap: Enforcement;
  /** timeoutMs answers 504 in time */
  wallClock: Enforcement;
  /** a function stuck in a CPU loop is stopped and its thread/process reclaimed */
  cpuSpin: Enforcement;
  /** The OS sandbox around each instance ("bubblewrap"), or "none" and why. */
  sandbox: string;
  /** What of the file system a function can read and write. */
  fileSystem: string;
  /** What of the network it can reach. */
  network: string;
  /** Which processes it can signal (and so stop). */
  signals: string;
  /**
   * A packed isolate (`"pack": true`): what it shares its worker thread with, and what that
   * costs it: a CPU loop or a crash in any function of the worker ends the worker, and every
   * request in flight there gets a 502; memoryMb is the worker's heap, not its own.
   */
  packed?: string;
}

/** What packing gives up, in one sentence: the start-up log, `lanes validate` and the README say it. */
export const PACKING_GIVES_UP =
  "a CPU loop or an uncaught exception in one packed function recycles the worker thread it shares, and the requests in flight of every function in that worker get a 502 (instance_crashed); memoryMb limits the shared worker's heap, not each function";

export function limitsFor(spec: FunctionSpec, adapter: RuntimeAdapter): Limits {
  if (spec.lane === "process") {
    return {
      heap: "enforced", // heap flag on node/deno; on bun the watchdog, by its heap after a collection
      wallClock: "enforced",
      cpuSpin: "enforced", // SIGKILL
      ...processIsolation(spec, adapter),
    };
  }
  return {
    heap: adapter.caps.workerHeapLimit ? "enforced" : "not enforced",
    wallClock: "enforced",
    cpuSpin: adapter.caps.terminateStopsSpin ? "enforced" : "not enforced",
    // a worker thread is the host: same memory, files, network, user and signals
    sandbox: "none (trusted code in the host's process)",
    fileSystem: "all the host can",
    network: "all the host can",
    signals: "the host and all it can signal",
    ...(spec.pack ? { packed: `a worker thread shared with other packed functions: ${PACKING_GIVES_UP}` } : {}),
  };
}

function processIsolation(spec: FunctionSpec, adapter: RuntimeAdapter): Pick<Limits, "sandbox" | "fileSystem" | "network" | "signals"> {
  const g = spec.permissions;
  const rel = (p: string) => adapter.sys.relative(spec.dir, p);
  const grants = [...(g.read.length ? [`read ${g.read.map(rel).join(" ")}`] : []), ...(g.write.length ? [`write ${g.write.map(rel).join(" ")}`] : [])];
  const deno = spec.runtime === "deno";
  const network = g.net === false ? "none" : g.net === true ? "all" : deno ? `only ${g.net.join(" ")}` : `all (${spec.runtime} cannot limit it to host:port)`;
  if (sandboxed(spec, adapter)) {
    return {
      sandbox: "bubblewrap",
      fileSystem: ["its code", "private /tmp", ...grants].join(", "),
      network,
      signals: "its own sandbox only",
    };
  }
  const why = spec.sandbox === "off" ? "none (sandbox off)" : "none (no bubblewrap)";
  if (deno) {
    return { sandbox: `${why}, deno flags`, fileSystem: ["its code", ...grants].join(", "), network, signals: "none" };
  }
  return { sandbox: why, fileSystem: "all the host's user can", network: "all", signals: "the host and its user's processes" };
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
  const list = Array.isArray(specs) ? (specs as readonly FunctionSpec[]) : [specs as FunctionSpec];
  const packed = list.filter((s) => s.pack).map((s) => s.name);
  if (packed.length > 0) {
    out.push(
      `packed isolates (${packed.length}): ${packed.length > 12 ? `${packed.slice(0, 12).join(", ")} and ${packed.length - 12} more` : packed.join(", ")} share up to ${adapter.cores()} worker thread(s): ` +
        `${PACKING_GIVES_UP}; set "pack": false for a function that needs a worker of its own`,
    );
  }
  if (heap.length > 0) {
    out.push(`memoryMb is not enforced on ${adapter.name} in the isolate lane (it ignores worker heap limits) for: ${heap.join(", ")}; ${fix(heap)}`);
  }
  if (spin.length > 0) {
    out.push(
      `a CPU loop cannot be stopped on ${adapter.name} in the isolate lane (terminate() leaves the thread spinning, denoland/deno#35657) for: ${spin.join(", ")}; ` +
        `such a request still gets its 504 but its thread leaks; ${fix(spin)}`,
    );
  }
  return out;
}
