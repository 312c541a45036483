/**
 * What a lane loads for a function: its compiled bundle, and the `load` call that hands the
 * bundle to an instance. `lanes start`, `lanes dev`, `lanes validate` and the bench's direct
 * baseline all build a function here, so it is the same code wherever it runs.
 */
import type { Sys } from "../../adapters/types.ts";
import type { LoadSpec } from "../channel/control.ts";
import { compile, type Compiled } from "../compile.ts";
import { forFolder, type InputRules } from "../compile-inputs.ts";
import { inspectedModule } from "../dev/inspect.ts";
import type { FunctionSpec } from "../manifest/load.ts";

/** Bundle a function with its imports: CommonJS for a packed isolate (run in a context of its own), else ESM. */
export function compileFunction(spec: FunctionSpec, sys: Sys, inputs?: InputRules): Promise<Compiled> {
  return compile(spec.entry, sys, spec.name, {
    format: spec.pack ? "cjs" : "esm",
    sourcesContent: spec.inspect === true,
    ...(inputs ? { inputs: forFolder(inputs, spec.dir) } : {}),
  });
}

/** The load call for `spec`; `bundleUrl` stays empty until its bundle is known (see `withBundle`). */
export function loadSpec(spec: FunctionSpec, env: Record<string, string>, dev: boolean): LoadSpec {
  return { name: spec.name, lane: spec.lane, bundleUrl: "", env, dev };
}

/** Point a load call at a compiled bundle (under `lanes dev --inspect`, the module the debugger sees). */
export function withBundle(load: LoadSpec, spec: FunctionSpec, bundle: Compiled, sys: Sys): LoadSpec {
  load.bundleUrl = sys.fileUrl(inspectedModule(spec, bundle.file));
  return load;
}
