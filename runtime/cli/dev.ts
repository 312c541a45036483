/**
 * `lanes dev`: `lanes start` for local development. Reloads a function when any file it is
 * built from changes (and the manifest when it changes) without dropping a request, logs one
 * line per request, and sends a source-mapped stack with a function's 500. Everything it logs
 * goes to stdout, so `lanes dev --log json | jq` sees requests and function output alike.
 * Secret values come from local files (runtime/secrets/env-files.ts); `--inspect` runs a
 * function with its runtime's inspector (runtime/dev/inspect.ts).
 */
import type { RuntimeAdapter, Sys } from "../../adapters/types.ts";
import { LanesError } from "../errors.ts";
import { capabilityTable } from "../capability-table.ts";
import { startHost } from "../host/host.ts";
import { refuseGrantedOwnFiles } from "../host/own-files.ts";
import { inspectedSpec, inspectNotes, type InspectTarget } from "../dev/inspect.ts";
import { Reloader } from "../dev/reload.ts";
import { sandboxed } from "../isolation.ts";
import type { Logger } from "../log.ts";
import { loadManifest, type FunctionSpec } from "../manifest/load.ts";
import { EnvFiles } from "../secrets/env-files.ts";
import { StackMapper } from "../sourcemap/stack.ts";
import { parseArgs } from "./args.ts";
import { folderArg } from "./dir.ts";
import { SERVE_FLAGS, serveOptions, serverOutput } from "./serve-flags.ts";
import { serveUntilSignal } from "./start.ts";

export const DEV_FLAGS = { ...SERVE_FLAGS, "env-file": "list", inspect: "boolean" } as const;

export async function devCommand(adapter: RuntimeAdapter, argv: string[]): Promise<number> {
  const { rest, inspect } = await takeInspect(argv, adapter.sys);
  const args = parseArgs(rest, DEV_FLAGS, "dev", 1);
  const serve = serveOptions(args, "dev");
  const mapper = new StackMapper(adapter.sys, internalCode(adapter));
  const out = serverOutput(adapter, args, "dev", (log) => sourceMapped(log, mapper));
  const { log } = out;
  const dir = await folderArg(adapter, args.positionals[0]);
  const t0 = performance.now();

  const manifest = await loadManifest(dir, adapter.sys, adapter.name);
  if (inspect?.name !== undefined && !manifest.functions.some((f) => f.name === inspect.name)) {
    throw new LanesError("invalid_flag", `lanes dev: --inspect ${inspect.name}: no such function in ${manifest.file} (it has ${manifest.functions.map((f) => f.name).join(", ")})`);
  }
  const envFiles = new EnvFiles(adapter.sys, manifest.dir, args.lists["env-file"] ?? []);
  await envFiles.read();
  // a sandboxed function granted .env (or an --env-file) would read every function's secrets
  await refuseGrantedOwnFiles(manifest, envFiles.ownFiles, adapter.sys);
  const adjust = inspect ? (spec: FunctionSpec) => inspectedSpec(spec, inspect, adapter.name) : undefined;

  const host = await startHost({
    dir,
    dev: true,
    adapter,
    log,
    ...serve,
    ...(out.onRequest ? { onRequest: out.onRequest } : {}),
    mapStack: (stack) => mapper.map(stack),
    secrets: () => envFiles.current,
    // nor one that imports it `with { type: "text" }` (../compile-inputs.ts)
    compileInputs: { refuse: envFiles.ownFiles },
    ...(adjust ? { adjust } : {}),
  });
  const reloader = new Reloader(host, adapter, log, mapper, { envFiles, ...(adjust ? { adjust } : {}) });
  await reloader.start();

  log.info(`lanes dev on ${adapter.name} ${adapter.version}: ${host.manifest.file}`);
  for (const l of capabilityTable(
    host.functions.map((f) => f.spec),
    adapter,
  ))
    log.info(`  ${l}`);
  const names = envFiles.current.names();
  if (names.length > 0) log.info(`secret values (never shown): ${names.join(", ")}, from ${envFiles.paths.join(", ")} (the later file wins)`);
  for (const original of inspect ? manifest.functions : []) {
    const spec = adjust!(original);
    if (spec.inspect) for (const l of inspectNotes(original, spec, sandboxed(spec, adapter))) log.info(l);
  }
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

/**
 * `--inspect` (every function), `--inspect=NAME`, or `--inspect NAME` when NAME is not a folder with
 * a lanes.json (so `lanes dev --inspect functions/` still means the folder): taken out of `argv`.
 */
async function takeInspect(argv: string[], sys: Sys): Promise<{ rest: string[]; inspect: InspectTarget | undefined }> {
  const rest = [...argv];
  const at = rest.findIndex((a) => a === "--inspect" || a.startsWith("--inspect="));
  if (at < 0) return { rest, inspect: undefined };
  const [flag] = rest.splice(at, 1);
  if (flag!.startsWith("--inspect=")) return { rest, inspect: { name: flag!.slice("--inspect=".length) } };
  const next = rest[at];
  if (next !== undefined && !next.startsWith("-") && !(await sys.isFile(sys.join(next, "lanes.json")))) {
    rest.splice(at, 1);
    return { rest, inspect: { name: next } };
  }
  return { rest, inspect: { name: undefined } };
}

/** Path prefixes of lanes' own code: frames there are dropped from the stacks users see. */
function internalCode(adapter: RuntimeAdapter): string[] {
  const path = (rel: string) => decodeURIComponent(new URL(rel, import.meta.url).pathname);
  // compileGuests (host/guest-files.ts) names the guest bundles guest-worker-<hash>.mjs / guest-child-<hash>.mjs
  return [path("../"), path("../../adapters/"), adapter.sys.join(adapter.sys.cacheDir(), "guest-")];
}

/** Function output and errors with stacks pointing at the user's files. */
function sourceMapped(log: Logger, mapper: StackMapper): Logger {
  return {
    info: (m) => log.info(m),
    warn: (m) => log.warn(m),
    error: (m) => log.error(mapper.map(m)),
    fn: (name, level, text, requestId) => log.fn(name, level, mapper.map(text), requestId),
    dropped: (name, lines) => log.dropped(name, lines),
  };
}
