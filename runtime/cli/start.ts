/** `lanes start`: serve a folder of functions (or a deploy store's active deployment) until SIGINT/SIGTERM. */
import { hostEnv } from "../../adapters/env.ts";
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { capabilityTable } from "../capability-table.ts";
import { parseEtcdUrl } from "../deploy/etcd-url.ts";
import { describeDeployment } from "../deploy/model.ts";
import { LanesError } from "../errors.ts";
import { isLoopback, parseTokens, type Token } from "../host/admin-auth.ts";
import { PAUSE_STAGES, startDeployHost } from "../host/deploy-host.ts";
import { startHost, type Host } from "../host/host.ts";
import { requestLogger } from "../host/request-log.ts";
import type { Logger, LogFormat } from "../log.ts";
import { intFlag, parseArgs, stringFlag } from "./args.ts";
import { defaultFunctionsDir } from "./paths.ts";

/** How long SIGTERM lets in-flight requests finish (deploy/kubernetes/deployment.yaml counts on it). */
export const SHUTDOWN_GRACE_MS = 5000;
const FLAGS = {
  port: "string",
  host: "string",
  strict: "boolean",
  data: "string",
  store: "string",
  advertise: "string",
  "admin-token-file": "string",
  log: "string",
  "max-upload-mb": "string",
} as const;

export async function startCommand(
  adapter: RuntimeAdapter,
  argv: string[],
  o: { dev: boolean; log: Logger; command: string },
): Promise<number> {
  const args = parseArgs(argv, FLAGS, o.command);
  const port = intFlag(args, "port", 8787, o.command, 0, 65535);
  const hostname = stringFlag(args, "host", "127.0.0.1");
  const dir = args.positionals[0] ?? defaultFunctionsDir();
  const data = typeof args.flags.data === "string" ? args.flags.data : undefined;
  const storeFlag = typeof args.flags.store === "string" ? args.flags.store : undefined;
  if (data && storeFlag) throw new LanesError("invalid_flag", `lanes ${o.command}: give --data DIR (this host's own store) or --store etcd://... (shared), not both`);
  const store = storeFlag ? parseEtcdUrl(storeFlag) : undefined;
  const advertise = advertiseFlag(args.flags.advertise, store !== undefined, o.command);
  const format = stringFlag(args, "log", "");
  if (format !== "" && format !== "pretty" && format !== "json") {
    throw new LanesError("invalid_flag", `lanes ${o.command}: --log must be "pretty" or "json" (got ${JSON.stringify(format)})`);
  }
  const maxUploadBytes = intFlag(args, "max-upload-mb", 32, o.command, 1, 1024) * 1024 * 1024;
  const tokens = await adminTokens(adapter, stringFlag(args, "admin-token-file", ""), o.command);
  const pauseAt = hostEnv("LANES_TEST_PAUSE_AT");
  if (pauseAt && !(PAUSE_STAGES as string[]).includes(pauseAt)) {
    throw new LanesError("invalid_flag", `LANES_TEST_PAUSE_AT must be one of ${PAUSE_STAGES.join(", ")} (got ${JSON.stringify(pauseAt)})`);
  }
  const onRequest = format
    ? requestLogger({ format: format as LogFormat, color: format === "pretty" && adapter.isTTY(), write: adapter.writeOut })
    : undefined;

  const t0 = performance.now();
  const base = { dir, port, hostname, dev: o.dev, adapter, log: o.log, strict: args.flags.strict === true, ...(onRequest ? { onRequest } : {}) };
  let host: Host;
  let stop: (graceMs: number) => Promise<void>;
  if (data || store || tokens.length > 0 || !isLoopback(hostname)) {
    const d = await startDeployHost({
      ...base,
      ...(data ? { data } : {}),
      ...(store ? { store } : {}),
      ...(advertise ? { advertise } : {}),
      tokens,
      maxUploadBytes,
      ...(pauseAt ? { pauseAt } : {}),
    });
    host = d.host;
    stop = d.stop;
    if (d.deployer) o.log.info(`deploy store ${data ?? store!.url}: deployment ${d.deployer.active.revision}, ${describeDeployment(d.deployer.active)}`);
    if (d.member) o.log.info(`cluster member ${d.member.id} at ${d.member.status().host.url}: following the active deployment`);
    o.log.info(tokens.length > 0 ? `admin API on /_lanes/api/ (tokens: ${tokens.map((t) => t.name).join(", ")})` : "admin API off (no admin token)");
  } else {
    host = await startHost(base);
    stop = (graceMs) => host.stop(graceMs);
  }
  o.log.info(`lanes ${o.command} on ${adapter.name} ${adapter.version}: ${host.manifest.file}`);
  for (const l of capabilityTable(host.functions.map((f) => f.spec), adapter)) o.log.info(`  ${l}`);
  o.log.info(`ready in ${Math.round(performance.now() - t0)} ms`);
  adapter.writeOut(`listening on ${host.url}\n`);
  return serveUntilSignal(adapter, o.log, stop);
}

/** `--advertise URL`: where other hosts and `lanes versions` reach this one (only with --store). */
function advertiseFlag(v: string | boolean | undefined, shared: boolean, command: string): string | undefined {
  if (v === undefined) return undefined;
  if (!shared) throw new LanesError("invalid_flag", `lanes ${command}: --advertise names this host to the others of a shared store: give --store etcd://... too`);
  let url: URL | undefined;
  try {
    url = new URL(String(v));
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.pathname !== "/" || url.search || url.hash) {
    throw new LanesError("invalid_flag", `lanes ${command}: --advertise must be http://HOST:PORT, where other machines reach this host (got ${JSON.stringify(v)})`);
  }
  return url.origin;
}

/** From --admin-token-file, else LANES_ADMIN_TOKEN; none: the admin API stays off. Values are never printed. */
async function adminTokens(adapter: RuntimeAdapter, file: string, command: string): Promise<Token[]> {
  if (file) {
    const text = await adapter.sys.readText(file).catch(() => {
      throw new LanesError("invalid_flag", `lanes ${command}: --admin-token-file ${file}: cannot be read`);
    });
    return parseTokens(text, file);
  }
  const env = hostEnv("LANES_ADMIN_TOKEN");
  return env ? parseTokens(env, "LANES_ADMIN_TOKEN") : [];
}

/** Wait for SIGINT/SIGTERM, stop gracefully (a second signal stops at once), exit 0. */
export async function serveUntilSignal(adapter: RuntimeAdapter, log: Logger, stop: (graceMs: number) => Promise<void>): Promise<never> {
  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = () => {
      if (++signals > 1) adapter.exit(1); // a second Ctrl-C: stop now
      log.info("stopping: finishing in-flight requests");
      void stop(SHUTDOWN_GRACE_MS).then(resolve);
    };
    adapter.onSignal("SIGINT", onSignal);
    adapter.onSignal("SIGTERM", onSignal);
  });
  // Exit explicitly: Deno does not exit by itself while a terminated worker still spins (adapters/README.md, Workers).
  adapter.exit(0);
}
