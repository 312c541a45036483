/**
 * `lanes start` with a deploy store, an admin token or a non-loopback address: the host as
 * startHost makes it, with the deploy front in front of its router.
 *
 * With a store (`--data DIR`, or `--store etcd://...` shared with other hosts): the active
 * deployment's stable version is written out of the store and the host starts on it; a gradual
 * deployment's new version is brought up next to it. A new store first takes `dir` as version 1
 * (validated and bundled as `lanes deploy` does), kept once the host has started on it. On a
 * shared store the host then follows the active deployment and keeps its record there
 * (cluster-member.ts).
 *
 * With an admin token, the console (runtime/console/) is on at /_lanes/ui.
 */
import { contentDigest, describeDeployment, sha256Hex, type Deployment } from "../deploy/model.ts";
import { EtcdStore } from "../deploy/etcd-store.ts";
import type { EtcdTarget } from "../deploy/etcd-url.ts";
import { FolderStore } from "../deploy/folder-store.ts";
import { packFolder, type Packed } from "../deploy/pack.ts";
import { isClusterStore, type DeployStore, type PausePoint, type PauseStage } from "../deploy/store.ts";
import { startConsole, type ConsoleHandle } from "../console/start.ts";
import { RecentRequests } from "../console/recent.ts";
import type { SessionOptions } from "../console/session.ts";
import { adminApi } from "./admin-api.ts";
import { AdminAuth, DEFAULT_THROTTLE, isLoopback, type ThrottleOptions, type Token } from "./admin-auth.ts";
import { NO_PROXY } from "./client-address.ts";
import { ClusterMember } from "./cluster-member.ts";
import { DeployFront } from "./deploy-front.ts";
import { Deployer, type DeployerOptions } from "./deployer.ts";
import { startHost, type Host, type HostOptions } from "./host.ts";
import { readFiles, writeRelease } from "./release.ts";
import { type OwnFile, refuseGrantedOwnFiles } from "./own-files.ts";
import { SecretKeeper } from "./secret-keeper.ts";
import { pruneVersions } from "./prune.ts";
import { DEFAULT_KEEP_VERSIONS } from "../deploy/retention.ts";
import type { SecretsKey } from "../secrets/crypto.ts";
import { LanesError } from "../errors.ts";

export interface DeployHostOptions extends HostOptions {
  /** The deploy store's folder; without it the host serves `dir` and has no admin API. */
  data?: string;
  /** A deploy store in etcd, shared with other hosts (instead of `data`). */
  store?: EtcdTarget;
  /** Where other hosts and `lanes versions` reach this one (default: the URL it listens on). */
  advertise?: string;
  /** With `store`: how long a deploy waits for the other hosts to load its version (default 10 s). */
  othersMs?: number;
  /** `--keep-versions`: how many of the newest versions the store keeps (retention.ts; default DEFAULT_KEEP_VERSIONS). */
  keepVersions?: number;
  tokens: Token[];
  maxUploadBytes: number;
  /** Test only (LANES_TEST_PAUSE_AT): a deploy stops at this stage and waits forever, so a test can kill it there. */
  pauseAt?: string;
  /** `--admin-token-file`, if the tokens came from one. */
  adminTokenFile?: string;
  /** The keys of `--secrets-key-file` (the sealing key first) and that file's name; without them the host keeps no secrets. */
  secretsKey?: { keys: SecretsKey[]; file: string };
  /** The console's session lifetimes (tests shorten them); the defaults otherwise. */
  consoleSessions?: SessionOptions;
  /** How wrong admin tokens are answered 429 (tests lengthen the block); DEFAULT_THROTTLE otherwise. */
  throttle?: ThrottleOptions;
}

export interface DeployHost {
  host: Host;
  deployer: Deployer | undefined;
  member: ClusterMember | undefined;
  secrets: SecretKeeper | undefined;
  /** Whether the host serves `dir` (no store, or an empty store took it as its first version); else `dir` went unread. */
  tookDir: boolean;
  stop(graceMs: number): Promise<void>;
}

export const PAUSE_STAGES: PauseStage[] = ["blob", "version", "deployment", "active-temp", "active"];

export async function startDeployHost(o: DeployHostOptions): Promise<DeployHost> {
  const { sys } = o.adapter;
  const auth = new AdminAuth(o.tokens, o.throttle ?? DEFAULT_THROTTLE, { trusted: o.trustedProxies ?? NO_PROXY, warn: (m) => o.log.warn(m) });
  const front = new DeployFront({
    auth,
    guardReads: !isLoopback(o.hostname),
    hasStore: o.data !== undefined || o.store !== undefined,
    apiOff:
      o.data || o.store
        ? "the admin API is off: this host has no admin token (start it with --admin-token-file FILE or LANES_ADMIN_TOKEN)"
        : "the admin API is off: this host keeps no versions (start it with --data DIR and an admin token)",
    ...(o.consoleHost !== undefined ? { consoleHost: o.consoleHost } : {}),
  });
  const recent = auth.enabled ? new RecentRequests() : undefined;
  if (!o.data && !o.store) {
    if (o.secretsKey) throw new LanesError("invalid_flag", `--secrets-key-file needs --data DIR or --store etcd://...: secrets are kept in the deploy store`);
    const host = await startHost({ ...o, front, compileInputs: { refuse: ownFiles(o) }, ...(recent ? { recent } : {}) });
    const ui = recent ? await startConsole({ ...o, auth, host, recent, ...(o.consoleSessions ? { sessions: o.consoleSessions } : {}) }) : undefined;
    front.attach(undefined, undefined, ui?.handle);
    return { host, deployer: undefined, member: undefined, secrets: undefined, tookDir: true, stop: (graceMs) => stopAll(graceMs, host, undefined, ui) };
  }

  let armed = false; // deploys pause, not the start-up that may make version 1
  const pause = async (stage: PauseStage) => {
    if (!armed || stage !== o.pauseAt) return;
    o.log.warn(`paused at ${stage} (LANES_TEST_PAUSE_AT): waiting to be killed`);
    await new Promise(() => {});
  };
  const { store, runDir, close } = await openStore(o, pause);
  // a host that fails to start lets the folder go: the next start would find its hold otherwise
  try {
    const keeper = await SecretKeeper.open(store, o.secretsKey?.keys, o.secretsKey?.file, o.log);
    const secrets = keeper ? () => keeper.current : undefined;
    await sys.remove(runDir); // written again from the store: nothing in it is trusted
    const startOn = async (id: string, files: Map<string, Uint8Array>) => {
      const dir = await writeRelease(sys, runDir, id, files);
      // every version's bundles hold all their code: a build reads nothing outside the versions'
      // folder (which is in --data), and none of the host's own files
      const compileInputs = { inside: runDir, refuse: ownFiles(o).filter((f) => f.flag !== "--data") };
      return { dir, host: await startHost({ ...o, dir, front, version: id, compileInputs, ...(secrets ? { secrets } : {}), ...(recent ? { recent } : {}) }) };
    };
    let active = await store.active();
    let started: { dir: string; host: Host } | undefined;
    let tookDir = false;
    if (!active) {
      // A new store: `dir` becomes version 1 only once the host has started on it, so a folder
      // that cannot load leaves the store as it was, and the next start may bring another.
      const first = await packFolder(o.dir, sys, o.adapter.name, ownFiles(o));
      await refuseGrantedOwnFiles(first.manifest, ownFiles(o), sys);
      const id = await (isClusterStore(store) ? store.firstVersionId() : store.nextVersionId());
      started = await startOn(id, first.files).catch(async (e: unknown) => {
        await sys.remove(sys.join(runDir, id));
        throw e;
      });
      const kept = await keepFirstVersion(store, id, first).catch(async (e: unknown) => {
        await started?.host.stop(0);
        throw e;
      });
      active = kept.active;
      tookDir = kept.mine;
      if (!kept.mine) {
        // another host sharing the store made its first version at the same moment: serve that one
        await started.host.stop(0);
        started = undefined;
      }
    }
    if (!started) {
      const record = (await store.getVersion(active.stable))!;
      const files = await readFiles(store, active.stable, record.files).catch((e: unknown) => {
        // hosts that run already keep serving it from their own copy: a new deployment mends the store
        const why = e instanceof Error ? e.message : String(e);
        throw new LanesError(
          "internal",
          `cannot start on the store's active deployment ${active!.revision} (${describeDeployment(active!)}): ${why}; hosts that run already keep serving it; deploy or roll back to a version the store holds whole (lanes deploy/rollback --to a running host), then start this one again`,
        );
      });
      started = await startOn(active.stable, files);
    }
    const { host, dir: stableDir } = started;
    const options: DeployerOptions = {
      host,
      adapter: o.adapter,
      store,
      log: o.log,
      runDir,
      ...(o.onRequest ? { onRequest: o.onRequest } : {}),
      ...(secrets ? { secrets } : {}),
      ...(o.othersMs !== undefined ? { othersMs: o.othersMs } : {}),
      ...(o.keepVersions !== undefined ? { keepVersions: o.keepVersions } : {}),
    };
    const deployer = await Deployer.attach(options, active, stableDir);
    // a limit lowered since the last start applies now, in a deploy's turn (and frees a full etcd for its defrag)
    void deployer.exclusive(() => pruneVersions(options, deployer.active, deployer.copiesInUse));
    const ui = recent ? await startConsole({ ...o, auth, host, recent, deploy: { deployer, store }, ...(o.consoleSessions ? { sessions: o.consoleSessions } : {}) }) : undefined;
    const member = isClusterStore(store) ? new ClusterMember(store, deployer, o.log, o.adapter, o.advertise ?? host.url, keeper?.status() ?? null) : undefined;
    front.attach(
      deployer,
      auth.enabled
        ? adminApi({ deployer, store, auth, maxUploadBytes: o.maxUploadBytes, secrets: keeper, log: o.log, keepVersions: o.keepVersions ?? DEFAULT_KEEP_VERSIONS })
        : undefined,
      ui?.handle,
      member,
    );
    member?.start();
    // a secret set or deleted on any host restarts, on this one too, the functions whose values changed
    if (member && keeper && isClusterStore(store)) {
      store.followSecrets(() => {
        keeper
          .refresh(deployer)
          .catch((e: unknown) => o.log.error(`secrets changed in ${store.location} but could not be read again: ${e instanceof Error ? e.message : String(e)}`))
          .finally(() => member.noteSecrets(keeper.status()));
      });
    }
    armed = true;
    return {
      host,
      deployer,
      member,
      secrets: keeper,
      tookDir,
      async stop(graceMs) {
        // before the server closes: a deploy still loading is answered, not cut off (deploy-halt.ts)
        deployer.halt();
        await Promise.all([stopAll(graceMs, host, deployer, ui), member?.stop()]);
        if (o.store) await sys.remove(runDir);
        await close().catch((e: unknown) => o.log.warn(`${store.location}: could not let the store go: ${e instanceof Error ? e.message : String(e)}`));
      },
    };
  } catch (e) {
    await close().catch(() => {}); // the failure to start is what to report
    throw e;
  }
}

/** The console's live streams end first, so the server need not wait for them. */
async function stopAll(graceMs: number, host: Host, deployer: Deployer | undefined, ui: ConsoleHandle | undefined): Promise<void> {
  ui?.stop();
  await Promise.all([host.stop(graceMs), deployer?.stopRetiring(graceMs)]);
}

/**
 * The folder store (one host, which holds the folder until `close`; its releases in DIR/run) or
 * etcd (shared; releases in a folder of this process).
 */
async function openStore(o: DeployHostOptions, pause: PausePoint): Promise<{ store: DeployStore; runDir: string; close: () => Promise<void> }> {
  const { sys } = o.adapter;
  if (o.data) {
    const store = await FolderStore.open(o.data, sys, pause, (line) => o.log.warn(line));
    return { store, runDir: sys.join(store.location, "run"), close: () => store.close() };
  }
  const store = await EtcdStore.open(o.store!, { pause });
  await sys.ensurePrivateDir(sys.cacheDir());
  return { store, runDir: sys.join(sys.cacheDir(), "run", crypto.randomUUID()), close: async () => {} };
}

/**
 * A new store's version 1 (`packed`, already serving as `id`): kept, then active at 100%. On a
 * shared store both in one step, so that of hosts beginning it at once one keeps its folder
 * (etcd-begin.ts); the others get its deployment, `mine` false.
 */
async function keepFirstVersion(store: DeployStore, id: string, packed: Packed): Promise<{ active: Deployment; mine: boolean }> {
  const hashes: Record<string, string> = {};
  for (const [path, bytes] of packed.files) hashes[path] = await sha256Hex(bytes);
  // a host sharing the store that started first may sweep meanwhile (each hold its own: the others may take the same id)
  const hold = `${id}-first-${crypto.randomUUID()}`;
  await store.retention.hold(hold, Object.values(hashes));
  try {
    for (const bytes of packed.files.values()) await store.putBlob(bytes);
    const createdAt = new Date().toISOString();
    const v = { id, createdAt, tag: null, message: `${packed.manifest.dir}, taken by the new store`, author: "lanes", files: hashes, digest: await contentDigest(hashes) };
    const first = { createdAt, author: "lanes", reason: "initial" as const, message: null, stable: id, canary: null };
    if (isClusterStore(store)) return await store.begin(v, first);
    await store.putVersion(v);
    return { active: await store.activate(first, 0), mine: true };
  } finally {
    await store.retention.release(hold).catch(() => {}); // on etcd it goes with this host's lease anyway
  }
}

/** What this host reads that a function must not: the store's folder, the secrets key and the admin token files. */
function ownFiles(o: DeployHostOptions): OwnFile[] {
  return [
    ...(o.data ? [{ flag: "--data", path: o.data }] : []),
    ...(o.secretsKey ? [{ flag: "--secrets-key-file", path: o.secretsKey.file }] : []),
    ...(o.adminTokenFile ? [{ flag: "--admin-token-file", path: o.adminTokenFile }] : []),
  ];
}
