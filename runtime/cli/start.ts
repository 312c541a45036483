/** `lanes start`: serve a folder of functions (or a deploy store's active deployment) until SIGINT/SIGTERM. */
import { hostEnv } from "../../adapters/env.ts";
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { capabilityTable } from "../capability-table.ts";
import { parseEtcdUrl } from "../deploy/etcd-url.ts";
import { describeDeployment } from "../deploy/model.ts";
import { KEEP_VERSIONS_RULE, MAX_KEEP_VERSIONS } from "../deploy/retention.ts";
import { LanesError } from "../errors.ts";
import { isLoopback, parseTokens, type Token } from "../host/admin-auth.ts";
import { trustedProxies as parseTrustedProxies, wideRangesWarning } from "../host/client-address.ts";
import { CONSOLE_HOST_RULE, consoleHostName } from "../host/console-host.ts";
import { PAUSE_STAGES, startDeployHost } from "../host/deploy-host.ts";
import { DEFAULT_OTHERS_MS } from "../host/prepared.ts";
import { startHost, type Host } from "../host/host.ts";
import type { Logger } from "../log.ts";
import { SecretsKey } from "../secrets/crypto.ts";
import { intFlag, numberFlag, parseArgs, stringFlag, type Parsed } from "./args.ts";
import { folderArg } from "./dir.ts";
import { SERVE_FLAGS, serveOptions, serverOutput } from "./serve-flags.ts";

/** How long SIGTERM lets in-flight requests finish (deploy/kubernetes/deployment.yaml counts on it). */
export const SHUTDOWN_GRACE_MS = 5000;
export const START_FLAGS = {
  ...SERVE_FLAGS,
  strict: "boolean",
  data: "string",
  store: "string",
  advertise: "string",
  "cluster-wait": "string",
  "admin-token-file": "string",
  "secrets-key-file": "string",
  "max-upload-mb": "string",
  "console-host": "string",
  "trust-proxy": "string",
  "keep-versions": "string",
} as const;

export async function startCommand(adapter: RuntimeAdapter, argv: string[], o: { dev: boolean; command: string }): Promise<number> {
  const args = parseArgs(argv, START_FLAGS, o.command, 1);
  noEmptyValues(args, o.command);
  const serve = serveOptions(args, o.command);
  const consoleHost = consoleHostFlag(args.flags["console-host"], o.command);
  const out = serverOutput(adapter, args, o.command);
  const log = out.log;
  const dir = await folderArg(adapter, args.positionals[0]);
  const data = typeof args.flags.data === "string" ? args.flags.data : undefined;
  const storeFlag = typeof args.flags.store === "string" ? args.flags.store : undefined;
  if (data && storeFlag) throw new LanesError("invalid_flag", `lanes ${o.command}: give --data DIR (this host's own store) or --store etcd://... (shared), not both`);
  if (data) await mustBeFolder(adapter, data, o.command);
  const store = storeFlag ? parseEtcdUrl(storeFlag) : undefined;
  const advertise = advertiseFlag(args.flags.advertise, store !== undefined, o.command);
  const othersMs = clusterWaitFlag(args, store !== undefined, o.command);
  const keepVersions = keepVersionsFlag(args, data !== undefined || store !== undefined, o.command);
  const maxUploadBytes = intFlag(args, "max-upload-mb", 32, o.command, 1, 1024) * 1024 * 1024;
  const tokens = await adminTokens(adapter, stringFlag(args, "admin-token-file", ""), o.command);
  if (consoleHost && tokens.length === 0) {
    throw new LanesError(
      "invalid_flag",
      `lanes ${o.command}: --console-host names the console's host, and the console needs an admin token: give --admin-token-file FILE or LANES_ADMIN_TOKEN too`,
    );
  }
  const trustProxy = stringFlag(args, "trust-proxy", "");
  if (trustProxy && tokens.length === 0) {
    throw new LanesError(
      "invalid_flag",
      `lanes ${o.command}: --trust-proxy names the proxies whose X-Forwarded-For the admin token throttle reads, and there is no admin token: give --admin-token-file FILE or LANES_ADMIN_TOKEN too`,
    );
  }
  const trustedProxies = trustProxy ? parseTrustedProxies(trustProxy, `lanes ${o.command}: --trust-proxy`) : undefined;
  const keyFile = stringFlag(args, "secrets-key-file", "");
  const secretsKey = keyFile ? { keys: await secretsKeys(adapter, keyFile, o.command), file: keyFile } : undefined;
  const pauseAt = hostEnv("LANES_TEST_PAUSE_AT");
  if (pauseAt && !(PAUSE_STAGES as string[]).includes(pauseAt)) {
    throw new LanesError("invalid_flag", `LANES_TEST_PAUSE_AT must be one of ${PAUSE_STAGES.join(", ")} (got ${JSON.stringify(pauseAt)})`);
  }

  const t0 = performance.now();
  const base = { dir, dev: o.dev, adapter, log, strict: args.flags.strict === true, ...serve, ...(out.onRequest ? { onRequest: out.onRequest } : {}) };
  let host: Host;
  let stop: (graceMs: number) => Promise<void>;
  if (data || store || tokens.length > 0 || secretsKey || !isLoopback(serve.hostname)) {
    const d = await startDeployHost({
      ...base,
      ...(data ? { data } : {}),
      ...(store ? { store } : {}),
      ...(advertise ? { advertise } : {}),
      ...(othersMs !== undefined ? { othersMs } : {}),
      ...(keepVersions !== undefined ? { keepVersions } : {}),
      tokens,
      ...(stringFlag(args, "admin-token-file", "") ? { adminTokenFile: stringFlag(args, "admin-token-file", "") } : {}),
      maxUploadBytes,
      ...(pauseAt ? { pauseAt } : {}),
      ...(secretsKey ? { secretsKey } : {}),
      ...(consoleHost ? { consoleHost } : {}),
      ...(trustedProxies ? { trustedProxies } : {}),
    });
    host = d.host;
    stop = d.stop;
    if (d.deployer) log.info(`deploy store ${data ?? store!.url}: deployment ${d.deployer.active.revision}, ${describeDeployment(d.deployer.active)}`);
    // `lanes start next --data S` on a store with deployments served them, and said nothing of next/
    if (d.deployer && !d.tookDir && args.positionals[0] !== undefined) {
      log.info(`${dir} is not what this host serves: only an empty store takes the folder it starts on; to serve it, lanes deploy ${dir} --to ${host.url}`);
    }
    if (d.member) log.info(`cluster member ${d.member.id} at ${d.member.status().host.url}: following the active deployment`);
    const where = consoleHost ? `http://${consoleHost}:${new URL(d.host.url).port}/_lanes/ui only` : "/_lanes/ui";
    log.info(
      tokens.length > 0 ? `admin API on /_lanes/api/ and the console on ${where} (tokens: ${tokens.map((t) => t.name).join(", ")})` : "admin API and console off (no admin token)",
    );
    if (tokens.length > 0 && !consoleHost) {
      log.warn(
        "the console shares its origin with the functions: a function's page opened by a logged-in operator can act in the console as them; give the console a host name of its own with --console-host admin.localhost (or a DNS name of this host)",
      );
    }
    // as the console's warning: the host serves, but the throttle it was told to keep does not hold
    const wide = trustedProxies && wideRangesWarning(trustedProxies, "--trust-proxy");
    if (wide) log.warn(wide);
    if (secretsKey) log.info(`secrets: sealed in the deploy store with key ${secretsKey.keys[0]!.id} (${keyFile})`);
  } else {
    host = await startHost(base);
    stop = (graceMs) => host.stop(graceMs);
  }
  log.info(`lanes ${o.command} on ${adapter.name} ${adapter.version}: ${host.manifest.file}`);
  for (const l of capabilityTable(
    host.functions.map((f) => f.spec),
    adapter,
  ))
    log.info(`  ${l}`);
  if (serve.otlpEndpoint) log.info(`exporting a span per request to ${serve.otlpEndpoint} (OTLP/HTTP)`);
  log.info(`ready in ${Math.round(performance.now() - t0)} ms`);
  return serveUntilSignal(
    adapter,
    log,
    async (graceMs) => {
      await stop(graceMs);
      out.flush();
    },
    () => out.listening(host.url),
  );
}

/**
 * These flags given "" (an unset shell variable: `--data "$DATA"`) read as not given: the host
 * served without its store, admin token or secrets key, and said nothing (--host: serve-flags.ts).
 */
function noEmptyValues(args: Parsed, command: string) {
  for (const name of ["data", "store", "admin-token-file", "secrets-key-file", "trust-proxy"]) {
    if (typeof args.flags[name] === "string" && (args.flags[name] as string).trim() === "") {
      throw new LanesError("invalid_flag", `lanes ${command}: --${name} needs a value (got ${JSON.stringify(args.flags[name])})`);
    }
  }
}

/** `--data DIR` must be a folder, or one the store can make (a file on the way reached the user as a stack trace, ENOTDIR). */
async function mustBeFolder(adapter: RuntimeAdapter, dir: string, command: string) {
  const { sys } = adapter;
  let at = sys.resolve(dir);
  while (!(await sys.exists(at)) && sys.dirname(at) !== at) at = sys.dirname(at);
  await sys.list(at).catch(() => {
    throw new LanesError("invalid_flag", `lanes ${command}: --data ${dir}: ${at} is not a folder (give a new or empty folder, or the store of a lanes host)`);
  });
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

/** `--console-host NAME`: the host name the console answers on (and no function), lower-cased. */
function consoleHostFlag(v: string | boolean | undefined, command: string): string | undefined {
  if (v === undefined) return undefined;
  const name = consoleHostName(String(v));
  if (!name) throw new LanesError("invalid_flag", `lanes ${command}: --console-host ${CONSOLE_HOST_RULE} (got ${JSON.stringify(v)})`);
  return name;
}

/** `--cluster-wait S`: how long a deploy waits for the other hosts of a shared store (only with --store). */
function clusterWaitFlag(args: Parsed, shared: boolean, command: string): number | undefined {
  if (args.flags["cluster-wait"] === undefined) return undefined;
  if (!shared)
    throw new LanesError("invalid_flag", `lanes ${command}: --cluster-wait is how long a deploy waits for the other hosts of a shared store: give --store etcd://... too`);
  return numberFlag(args, "cluster-wait", DEFAULT_OTHERS_MS / 1000, command, 0, 600, "a number of seconds") * 1000;
}

/** `--keep-versions N`: how many of the newest versions the deploy store keeps (retention.ts; only with a store). */
function keepVersionsFlag(args: Parsed, hasStore: boolean, command: string): number | undefined {
  const v = args.flags["keep-versions"];
  if (v === undefined) return undefined;
  if (!hasStore) throw new LanesError("invalid_flag", `lanes ${command}: --keep-versions says how many versions the deploy store keeps: give --data DIR or --store etcd://... too`);
  const n = typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_KEEP_VERSIONS)
    throw new LanesError("invalid_flag", `lanes ${command}: --keep-versions ${KEEP_VERSIONS_RULE} (got ${JSON.stringify(v)})`);
  return n;
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

/** The keys in --secrets-key-file: a file only this user may read, one key per line. Never printed. */
export async function secretsKeys(adapter: RuntimeAdapter, file: string, command: string): Promise<SecretsKey[]> {
  let bytes: Uint8Array;
  try {
    bytes = await adapter.sys.readSecretFile(file);
  } catch (e) {
    const hint = (e as Error).message === "no such file" ? " (make one: (umask 077; openssl rand -hex 32 > FILE))" : "";
    throw new LanesError("invalid_flag", `lanes ${command}: --secrets-key-file ${file}: ${(e as Error).message}${hint}`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new LanesError("invalid_flag", `lanes ${command}: --secrets-key-file ${file}: is not text (a key is 64 hex digits, or base64 of 32 bytes, on a line)`);
  } finally {
    bytes.fill(0);
  }
  return SecretsKey.parse(text, `lanes ${command}: --secrets-key-file ${file}`);
}

/** Signals this close to the first are the same stop, delivered twice (serveUntilSignal). */
const SAME_STOP_MS = 300;

/**
 * Wait for SIGINT/SIGTERM, stop gracefully (a second signal stops at once), exit 0. `listening`
 * says the host is ready, once the handlers are in place: a client that signals the moment it
 * reads that line gets a graceful stop, not the runtime's default death.
 */
export async function serveUntilSignal(adapter: RuntimeAdapter, log: Logger, stop: (graceMs: number) => Promise<void>, listening?: () => void): Promise<never> {
  await new Promise<void>((resolve) => {
    let first: number | undefined;
    const onSignal = () => {
      if (first !== undefined) {
        // A second Ctrl-C: stop now. But one stop often arrives more than once at the same
        // moment: a terminal's Ctrl-C reaches npm and the CLI, and npm passes it on; systemd
        // signals every process of the service, and the CLI in front of a re-executed host
        // passes it on. Counted as a second signal it would drop the requests in flight.
        if (performance.now() - first >= SAME_STOP_MS) adapter.exit(1);
        return;
      }
      first = performance.now();
      log.info("stopping: finishing in-flight requests");
      void stop(SHUTDOWN_GRACE_MS).then(resolve);
    };
    adapter.onSignal("SIGINT", onSignal);
    adapter.onSignal("SIGTERM", onSignal);
    listening?.();
  });
  // Exit explicitly: Deno does not exit by itself while a terminated worker still spins
  // (../../adapters/README.md, "Workers": the table's terminate() row).
  adapter.exit(0);
}
