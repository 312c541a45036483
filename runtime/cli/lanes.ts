/** The `lanes` executable: pick the host adapter, run the command, map errors to exit codes (usage errors exit 2 in main.ts, other failures 1). */
import { loadAdapter } from "../../adapters/mod.ts";
import { isLanesError } from "../errors.ts";
import { escapeControls } from "../log.ts";
import { main } from "./main.ts";

const adapter = await loadAdapter();
const argv = adapter.argv();
// host commands run with an allow-listed environment, re-executing themselves if need be; their
// --help serves nothing, and a re-executed host would stay up reading its stdin after printing it
const HOST_COMMANDS = new Set(["start", "dev"]);
const help = argv.includes("--help") || argv.includes("-h");
const serves = HOST_COMMANDS.has(argv[0] ?? "") && !help;
// the load generator's allocator is told as it starts (adapters/env.ts)
const loads = argv[0] === "load" && !help;
const hostExit = serves ? await adapter.runWithCleanEnv() : loads ? await adapter.runWithKeepingAllocator() : undefined;
if (hostExit !== undefined) adapter.exit(hostExit);
try {
  const code = await main(adapter, argv);
  if (code !== 0) adapter.exit(code);
} catch (e) {
  // user errors (manifest, flags) print their message only, never a stack trace; its control
  // characters as \xNN: a host's answer quotes a function (the error its module threw on loading)
  // and sent the escape sequences in it to the terminal of whoever ran lanes deploy
  adapter.writeErr(`${escapeControls(isLanesError(e) ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`);
  adapter.exit(1);
}
