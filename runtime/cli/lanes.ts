/** The `lanes` executable: pick the host adapter, run the command, map errors to exit codes. */
import { loadAdapter } from "../../adapters/mod.ts";
import { isLanesError } from "../errors.ts";
import { main } from "./main.ts";

const adapter = await loadAdapter();
try {
  const code = await main(adapter, adapter.argv());
  if (code !== 0) adapter.exit(code);
} catch (e) {
  // user errors (manifest, flags) print their message only, never a stack trace
  adapter.writeErr(`${isLanesError(e) ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  adapter.exit(1);
}
