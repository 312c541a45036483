/**
 * `lanes dev`: `lanes start` for local development. Reloads a function when any file it is
 * built from changes (and the manifest when it changes) without dropping a request, logs one
 * line per request, and sends a source-mapped stack with a function's 500. Everything it logs
 * goes to stdout, so `lanes dev --log json | jq` sees requests and function output alike.
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { LanesError } from "../errors.ts";
import { capabilityTable } from "../capability-table.ts";
import { startHost } from "../host/host.ts";
import { Reloader } from "../host/reload.ts";
import { requestLogger } from "../host/request-log.ts";
import { createLogger, type Logger, type LogFormat } from "../log.ts";
import { StackMapper } from "../sourcemap-stack.ts";
import { intFlag, parseArgs, stringFlag } from "./args.ts";
import { defaultFunctionsDir } from "./paths.ts";
import { serveUntilSignal } from "./start.ts";

export async function devCommand(adapter: RuntimeAdapter, argv: string[]): Promise<number> {
  const args = parseArgs(argv, { port: "string", host: "string", log: "string" }, "dev");
  const port = intFlag(args, "port", 8787, "dev", 0, 65535);
  const hostname = stringFlag(args, "host", "127.0.0.1");
  const format = stringFlag(args, "log", "pretty");
  if (format !== "pretty" && format !== "json") {
    throw new LanesError("invalid_flag", `lanes dev: --log must be "pretty" or "json" (got ${JSON.stringify(format)})`);
  }
  const dir = args.positionals[0] ?? defaultFunctionsDir();
  const color = format === "pretty" && adapter.isTTY();
  const t0 = performance.now();

  const mapper = new StackMapper(adapter.sys, internalCode(adapter));
  const log = sourceMapped(createLogger(adapter.writeOut, format as LogFormat, color), mapper);
  const host = await startHost({
    dir,
    port,
    hostname,
    dev: true,
    adapter,
    log,
    onRequest: requestLogger({ format: format as LogFormat, color, write: adapter.writeOut }),
    mapStack: (stack) => mapper.map(stack),
  });
  const reloader = new Reloader(host, adapter, log, mapper);
  await reloader.start();

  log.info(`lanes dev on ${adapter.name} ${adapter.version}: ${host.manifest.file}`);
  for (const l of capabilityTable(host.functions.map((f) => f.spec), adapter)) log.info(`  ${l}`);
  for (const f of host.functions) if (f.error) log.info(`  ${f.spec.name} is broken: see the error above`);
  log.info(`ready in ${Math.round(performance.now() - t0)} ms; watching the manifest and every file the functions import`);
  if (format === "json") log.info(`listening on ${host.url}`);
  else adapter.writeOut(`listening on ${host.url}\n`);

  return serveUntilSignal(adapter, log, async (graceMs) => {
    await reloader.stop();
    await Promise.all([host.stop(graceMs), reloader.stopRetiring(graceMs)]);
  });
}

/** Path prefixes of lanes' own code: frames there are dropped from the stacks users see. */
function internalCode(adapter: RuntimeAdapter): string[] {
  const path = (rel: string) => decodeURIComponent(new URL(rel, import.meta.url).pathname);
  // compileGuests (host.ts) names the guest bundles guest-worker-<hash>.mjs / guest-child-<hash>.mjs
  return [path("../"), path("../../adapters/"), adapter.sys.join(adapter.sys.cacheDir(), "guest-")];
}

/** Function output and errors with stacks pointing at the user's files. */
function sourceMapped(log: Logger, mapper: StackMapper): Logger {
  return {
    info: (m) => log.info(m),
    warn: (m) => log.warn(m),
    error: (m) => log.error(mapper.map(m)),
    fn: (name, level, text, requestId) => log.fn(name, level, mapper.map(text), requestId),
  };
}
