/**
 * `lanes`: the command line. It runs on whichever runtime starts it; that runtime is the host.
 * Usage errors (an unknown command or flag, a bad flag value) exit 2 with the usage; `help`,
 * `--help` and `--version` exit 0.
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { isLanesError } from "../errors.ts";
import { createLogger } from "../log.ts";
import { manifestJsonSchema } from "../manifest/json-schema.ts";
import { parseArgs } from "./args.ts";
import { COMMANDS, commandUsage, globalUsage } from "./usage.ts";

export { defaultFunctionsDir } from "./dir.ts";

export async function main(adapter: RuntimeAdapter, argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const version = await lanesVersion(adapter);
  if (command === undefined) {
    adapter.writeErr(globalUsage(version));
    return 2;
  }
  if (command === "--version" || command === "-v" || command === "version") {
    adapter.writeOut(`lanes ${version} (${adapter.name} ${adapter.version})\n`);
    return 0;
  }
  if (command === "help" || command === "--help" || command === "-h") {
    const topic = rest[0];
    if (topic !== undefined && !Object.hasOwn(COMMANDS, topic)) return unknownCommand(adapter, topic, version);
    adapter.writeOut(topic ? commandUsage(topic) : globalUsage(version));
    return 0;
  }
  if (!Object.hasOwn(COMMANDS, command)) return unknownCommand(adapter, command, version);
  if (rest.includes("--help") || rest.includes("-h")) {
    adapter.writeOut(commandUsage(command));
    return 0;
  }
  try {
    return await run(adapter, command, rest);
  } catch (e) {
    if (!isLanesError(e) || e.code !== "invalid_flag") throw e;
    adapter.writeErr(`${e.message}\n\n${commandUsage(command)}`);
    return 2;
  }
}

/**
 * Each command's module is imported when it runs: a `lanes deploy` or `lanes secret` does not
 * load the host, and `lanes start` not the bench (CONTRIBUTING.md, How the Node CLI starts).
 */
async function run(adapter: RuntimeAdapter, command: string, rest: string[]): Promise<number> {
  // one-shot commands log to stderr; the servers choose their own stream and format
  const log = createLogger(adapter.writeErr, "pretty", false);
  switch (command) {
    case "start":
      return (await import("./start.ts")).startCommand(adapter, rest, { dev: false, command });
    case "dev":
      return (await import("./dev.ts")).devCommand(adapter, rest);
    case "new":
      return (await import("./new.ts")).newCommand(adapter, rest);
    case "validate":
      return (await import("./validate.ts")).validateCommand(adapter, rest, log);
    case "bench":
      return (await import("./bench.ts")).benchCommand(adapter, rest, log);
    case "deploy":
    case "versions":
    case "promote":
    case "rollback":
      return (await import("./deploy.ts")).deployCommand(adapter, command, rest);
    case "secret":
      return (await import("./secret.ts")).secretCommand(adapter, rest);
    case "load":
      return (await import("./load.ts")).loadCommand(adapter, rest);
    case "schema":
      parseArgs(rest, {}, "schema", 0);
      adapter.writeOut(manifestJsonSchema());
      return 0;
  }
  throw new Error(`lanes: no handler for command "${command}"`);
}

function unknownCommand(adapter: RuntimeAdapter, command: string, version: string): number {
  adapter.writeErr(`lanes: unknown command "${command}"\n\n${globalUsage(version)}`);
  return 2;
}

/** This package's version, from its package.json. */
async function lanesVersion(adapter: RuntimeAdapter): Promise<string> {
  const file = decodeURIComponent(new URL("../../package.json", import.meta.url).pathname);
  try {
    return (JSON.parse(await adapter.sys.readText(file)) as { version: string }).version;
  } catch {
    return "unknown";
  }
}
