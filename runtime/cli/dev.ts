/**
 * `lanes dev`: `lanes start` for local development. Reloads a function when any file it is
 * built from changes (and the manifest when it changes) without dropping a request, logs one
 * line per request, and sends a source-mapped stack with a function's 500. Everything it logs
 * goes to stdout, so `lanes dev --log json | jq` sees requests and function output alike.
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { capabilityTable } from "../capability-table.ts";
import { startHost } from "../host/host.ts";
import { Reloader } from "../host/reload.ts";
import type { Logger } from "../log.ts";
import { StackMapper } from "../sourcemap-stack.ts";
import { parseArgs } from "./args.ts";
import { folderArg } from "./dir.ts";
import { SERVE_FLAGS, serveOptions, serverOutput } from "./serve-flags.ts";
import { serveUntilSignal } from "./start.ts";

export const DEV_FLAGS = SERVE_FLAGS;

export async function devCommand(adapter: RuntimeAdapter, argv: string[]): Promise<number> {
  const args = parseArgs(argv, DEV_FLAGS, "dev", 1);
  const serve = serveOptions(args, "dev");
  const mapper = new StackMapper(adapter.sys, internalCode(adapter));
  const out = serverOutput(adapter, args, "dev", (log) => sourceMapped(log, mapper));
  const { log } = out;
  const dir = await folderArg(adapter, args.positionals[0]);
  const t0 = performance.now();
  const host = await startHost({
    dir,
    dev: true,
    adapter,
    log,
    ...serve,
    ...(out.onRequest ? { onRequest: out.onRequest } : {}),
    mapStack: (stack) => mapper.map(stack),
  });
  const reloader = new Reloader(host, adapter, log, mapper);
  await reloader.start();

  log.info(`lanes dev on ${adapter.name} ${adapter.version}: ${host.manifest.file}`);
  for (const l of capabilityTable(host.functions.map((f) => f.spec), adapter)) log.info(`  ${l}`);
  for (const f of host.functions) if (f.error) log.info(`  ${f.spec.name} is broken: see the error above`);
  log.info(`ready in ${Math.round(performance.now() - t0)} ms; watching the manifest and every file the functions import`);
  return serveUntilSignal(
    adapter,
    log,
    async (graceMs) => {
      await reloader.stop();
      await Promise.all([host.stop(graceMs), reloader.stopRetiring(graceMs)]);
      out.flush();
    },
    () => out.listening(host.url),
  );
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
