/**
 * Which process-lane functions run in the OS sandbox on this host, and what lanes must say (or
 * refuse) when it cannot give a function what its manifest asks for.
 */
import type { RuntimeAdapter } from "../adapters/types.ts";
import type { FunctionSpec } from "./manifest/load.ts";

/** Its children run in the sandbox: process lane, not "off", and bwrap works here. */
export function sandboxed(spec: FunctionSpec, adapter: RuntimeAdapter): boolean {
  return spec.lane === "process" && spec.sandbox !== "off" && adapter.sandbox().available;
}

export interface IsolationReport {
  /** Functions that must not start: "required" and no sandbox here. */
  errors: string[];
  /** What runs with less isolation than asked: no sandbox under "auto", a host:port list on node/bun. */
  warnings: string[];
}

export function isolationReport(specs: readonly FunctionSpec[], adapter: RuntimeAdapter): IsolationReport {
  const out: IsolationReport = { errors: [], warnings: [] };
  const processLane = specs.filter((s) => s.lane === "process");
  const wanting = processLane.filter((s) => s.sandbox !== "off");
  const support = wanting.length > 0 ? adapter.sandbox() : undefined;
  if (support && !support.available) {
    const required = wanting.filter((s) => s.sandbox === "required").map((s) => s.name);
    const auto = wanting.filter((s) => s.sandbox === "auto").map((s) => s.name);
    if (required.length > 0) {
      out.errors.push(`sandbox "required" for ${required.join(", ")}, but there is no OS sandbox on this machine: ${support.detail}`);
    }
    if (auto.length > 0) {
      out.warnings.push(
        `no OS sandbox for the process-lane function(s) ${auto.join(", ")}: ${support.detail}; ` +
          `their children get the host's access to files, network and processes (deno children: what their --allow-* flags grant); ` +
          `install bubblewrap, or set "sandbox": "off" to run them so on purpose`,
      );
    }
  }
  for (const s of processLane) {
    if (Array.isArray(s.permissions.net) && s.runtime !== "deno") {
      out.warnings.push(
        `functions.${s.name}.permissions.net: ${s.runtime} children cannot be limited to ${s.permissions.net.join(", ")}; ` +
          `"${s.name}" gets the whole network, as with "net": true (set "runtime": "deno" to enforce the list)`,
      );
    }
  }
  return out;
}
