/**
 * The capability table that `lanes start`, `lanes dev` and `lanes validate` print: per function,
 * its lane and route and what this host enforces for it (limits, sandbox, file system, network,
 * signals), so nobody has to guess what a function could do.
 */
import type { RuntimeAdapter } from "../adapters/types.ts";
import { limitsFor } from "./capabilities.ts";
import type { FunctionSpec } from "./manifest/load.ts";

const HEAD = ["function", "lane", "route", "memoryMb", "CPU loop", "sandbox", "file system", "network", "signals"];

/** Table lines (no trailing newline): a title, a header, one row per function. */
export function capabilityTable(specs: readonly FunctionSpec[], adapter: RuntimeAdapter): string[] {
  const sandbox = specs.some((s) => s.lane === "process" && s.sandbox !== "off") ? `; OS sandbox: ${adapter.sandbox().detail}` : "";
  // the same for every child, sandboxed or not (../adapters/README.md, Sandbox)
  const threads = specs.some((s) => s.lane === "process") && adapter.sandbox().threads ? `; ${adapter.sandbox().threads}` : "";
  const title = `what this ${adapter.name} ${adapter.version} host enforces per function${sandbox}${threads}`;
  const rows = specs.map((spec) => {
    const l = limitsFor(spec, adapter);
    return [
      spec.name,
      spec.lane === "process" ? `process/${spec.runtime}` : spec.pack ? "isolate/packed" : "isolate",
      spec.route,
      spec.pack ? `${l.heap} (its worker's)` : l.heap,
      l.cpuSpin !== "enforced" ? "not stopped" : spec.pack ? "stopped with its worker (502s)" : "stopped",
      l.sandbox,
      l.fileSystem,
      l.network,
      l.signals,
    ];
  });
  const widths = HEAD.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [title, line(HEAD), ...rows.map(line)];
}
