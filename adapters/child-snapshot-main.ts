/**
 * Entry of a Node process-lane guest built into a startup snapshot (adapters/node-snapshot.ts):
 * the guest's code is loaded when the snapshot is built, and `runChild` runs when a child is
 * restored from it. Compiled to CommonJS (`--build-snapshot` takes a script).
 *
 * A restored child's own `import()` fails with ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING (Node
 * 20.20), so the function's module is imported through a function compiled with the main
 * context's default loader (https://nodejs.org/api/vm.html#support-of-dynamic-import-in-compilation-apis).
 */
import { startupSnapshot } from "node:v8";
import vm from "node:vm";
import { runChild } from "../runtime/guest/child.ts";
import { setModuleImporter } from "./guest.ts";

startupSnapshot.setDeserializeMainFunction(() => {
  const importer = vm.runInThisContext("(url) => import(url)", { importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER });
  setModuleImporter(importer as (url: string) => Promise<Record<string, unknown>>);
  runChild();
});
