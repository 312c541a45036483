/**
 * `lanes dev --inspect [function]`: a function's instance runs with its runtime's inspector, so
 * Chrome DevTools (node, deno) or Bun's debugger can stop inside it.
 *
 * - The function runs as one process-lane instance for the session: a child process has an
 *   inspector of its own on every runtime, and one instance means every request reaches the
 *   breakpoints. An isolate-lane function moves into a child of the host's runtime, unsandboxed
 *   (in the isolate lane it had the host's own access) and, for deno, with the network.
 * - A sandboxed child keeps its sandbox but shares the host's network namespace: in its own,
 *   the inspector's port could not be reached from outside. A bun child loads the user's entry
 *   itself, not the bundle (Bun's debugger shows only Bun's own source maps: ../../adapters/README.md,
 *   Inspector), so it runs unsandboxed: the sandbox holds the bundle, not the user's sources.
 * - `timeoutMs` is lifted to 24 h: a request paused at a breakpoint is neither cut off with a
 *   504 nor taken for a CPU loop and killed.
 * - The bundle carries its sources in its inline source map (absolute paths): the debugger shows
 *   the user's .ts files, and maps breakpoints set in them to the bundle.
 * Each instance's inspector listens on a free port of 127.0.0.1; its URL is printed when it
 * starts (runtime/lanes/inspector-output.ts).
 */
import type { RuntimeName } from "../../adapters/types.ts";
import type { FunctionSpec, Manifest } from "../manifest/load.ts";

/** How long a request may stay paused in the debugger. */
export const INSPECT_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/** Which functions `--inspect` names: one, or (undefined) every function. */
export type InspectTarget = { name: string | undefined };

/** `spec` as `lanes dev --inspect` runs it, or as it is when it is not inspected. */
export function inspectedSpec(spec: FunctionSpec, target: InspectTarget, hostRuntime: RuntimeName): FunctionSpec {
  if (target.name !== undefined && spec.name !== target.name) return spec;
  const moved = spec.lane === "isolate";
  const runtime = moved ? hostRuntime : spec.runtime;
  return {
    ...spec,
    lane: "process",
    runtime,
    sandbox: moved || runtime === "bun" ? "off" : spec.sandbox,
    permissions: moved ? { net: true, read: [spec.dir], write: [] } : spec.permissions,
    instances: { ...spec.instances, min: 1, max: 1 },
    timeoutMs: INSPECT_TIMEOUT_MS,
    inspect: true,
    pack: false, // a child of its own, not a packed worker
  };
}

/** What the log says about an inspected function, once, at start-up. */
export function inspectNotes(original: FunctionSpec, inspected: FunctionSpec, sandboxed: boolean): string[] {
  const notes = [`inspecting ${original.name}: one instance with the ${inspected.runtime} runtime's inspector; its URL is printed when it starts (again after each reload)`];
  if (original.lane === "isolate") {
    notes.push(`  ${original.name} runs in the isolate lane otherwise: for this session it is a single process-lane child, unsandboxed (ctx.lane is "process")`);
  } else if (inspected.runtime === "bun" && original.sandbox !== "off") {
    notes.push(`  ${original.name} runs unsandboxed for this session: Bun's debugger shows your .ts files only when Bun loads them itself, and the sandbox holds only the bundle`);
  } else if (sandboxed) {
    notes.push(
      `  ${original.name} keeps its sandbox but shares the host's network namespace, so the inspector's port on 127.0.0.1 can be reached (the function can reach the network too)`,
    );
  }
  notes.push(`  timeoutMs is off while you debug (24 h instead of ${original.timeoutMs} ms): a request paused at a breakpoint is not cut off or taken for a CPU loop`);
  return notes;
}

/**
 * What an instance imports: the bundle, except for an inspected bun child, which loads the
 * user's entry itself. Bun shows its debugger a source map of its own transpiled output, not
 * the bundle's inline one, so only a file Bun loads itself shows as .ts (../../adapters/README.md, Inspector).
 */
export function inspectedModule(spec: FunctionSpec, bundle: string): string {
  return spec.inspect && spec.runtime === "bun" ? spec.entry : bundle;
}

/** The manifest with `adjust` applied to every function (`lanes dev --inspect`). */
export function adjusted(m: Manifest, adjust: ((spec: FunctionSpec) => FunctionSpec) | undefined): Manifest {
  return adjust ? { ...m, functions: m.functions.map(adjust) } : m;
}
