/**
 * Warm spares for the process lane, after Fission's "specialization": a few generic children,
 * started ahead with no function, one of which takes a function's bundle on the function's first
 * request, so that request does not wait for a runtime to start. A taken spare is replaced at
 * once.
 *
 * A spare's sandbox is fixed when it starts, so it holds an empty folder of its own (mounted
 * read-only inside); the host copies the function's bundle into it just before `load`, and
 * `load` gives it the function's env (until then its environment is empty). So a spare can only
 * serve a function whose sandbox it already has: the process lane with no permissions (no
 * network, no read or write grants: those are mounts and namespaces chosen at start), with the
 * same runtime and memoryMb (the heap flag and the size of /tmp), sandboxed or not as the
 * function is. Without the sandbox, node and bun spares change to the function's folder at
 * load; deno spares cannot (--allow-read would have to name the folder), so unsandboxed deno
 * functions start a child of their own, as do functions with permissions.
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import type { LoadSpec } from "../channel/control.ts";
import { hostStreamEnd } from "../channel/stream-end.ts";
import { childFrameLimit } from "../pool/watchdog.ts";
import { sandboxed } from "../isolation.ts";
import type { Logger } from "../log.ts";
import type { FunctionSpec } from "../manifest/load.ts";
import { link, type GuestLink } from "./lane.ts";

/** Spares kept per profile at first; more while functions find none ready. */
const BASE_SPARES = 1;
const MAX_SPARES = 3;
/** At most this many profiles (runtime, memoryMb, sandbox) get spares: each spare is a whole process. */
const MAX_PROFILES = 4;
/** A profile whose spares were not needed for this long goes back to BASE_SPARES. */
const DECAY_MS = 60_000;
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 30_000;
/** A spare's folder: `<host runtime>-<host pid>-<time>-<n>`; before the pid was in it, `<host runtime>-<time>-<n>`. */
const FOLDER = /^(?:node|bun|deno)-(?:(\d+)-)?([0-9a-z]+)-\d+$/;
/** Folders named the old way are left to a host that may still run for this long. */
const OLD_FOLDER_MS = 24 * 3600_000;
/**
 * `<n>` counts in the process, not per pool: two hosts in one process (as a test runs them)
 * made the same name in the same millisecond, and one's spare ending removed the other's folder
 * under it (a deploy failed: ENOENT copying its bundle in).
 */
let nextSpareId = 0;

export interface SpareProfile {
  runtime: FunctionSpec["runtime"];
  memoryMb: number;
  sandboxed: boolean;
}

/** The profile of spare that can serve `spec`, or undefined when none can (see above). */
export function spareProfile(spec: FunctionSpec, adapter: RuntimeAdapter): SpareProfile | undefined {
  if (spec.lane !== "process") return undefined;
  const g = spec.permissions;
  if (g.net !== false || g.read.length > 0 || g.write.length > 0) return undefined;
  const inSandbox = sandboxed(spec, adapter);
  if (!inSandbox && spec.runtime === "deno") return undefined;
  return { runtime: spec.runtime, memoryMb: spec.memoryMb, sandboxed: inSandbox };
}

const keyOf = (p: SpareProfile) => `${p.runtime}/${p.memoryMb}/${p.sandboxed ? "sandbox" : "none"}`;

interface Spare {
  /** Set once its folder exists and it is spawned. */
  link?: GuestLink;
  folder: string;
  ready: boolean;
  /** Whose log its output is: the spare's until a function takes it. */
  owner: string;
}

interface Profile {
  profile: SpareProfile;
  spares: Spare[];
  target: number;
  /**
   * One of its spares has been ready. Until then a function that finds none ready raced the
   * first spare's start (the start-up load check, `instances.min`), which says nothing of demand.
   */
  warm: boolean;
  lastWanted: number;
  failures: number;
  retryAt: number;
}

/** A spare failed or could not start (not logging each second while it cannot): no new one before the returned wait. */
function backOff(p: Profile): number {
  const wait = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** p.failures++);
  p.retryAt = Date.now() + wait;
  return wait;
}

export interface SpareInfo extends SpareProfile {
  ready: number;
  starting: number;
}

export class SparePool {
  private readonly profiles = new Map<string, Profile>();
  private readonly timer: ReturnType<typeof setInterval>;
  private stopped = false;
  /** Folders being removed: the host does not exit before they are gone. */
  private readonly removing = new Set<Promise<void>>();

  constructor(private readonly o: { adapter: RuntimeAdapter; log: Logger; childFile: string; snapshotEntry?: string }) {
    this.timer = setInterval(() => this.tick(), 1000);
    (this.timer as { unref?: () => void }).unref?.();
    void this.removeStale();
  }

  /**
   * The folders of hosts that are gone (killed, or crashed) and had no time to remove them, and
   * the sandboxes such a host left stuck before they started.
   */
  private async removeStale(): Promise<void> {
    const stuck = this.o.adapter.killStuckSandboxes();
    if (stuck > 0) this.o.log.warn(`killed ${stuck} sandbox process(es) left stuck by a host that died while starting them`);
    const { sys, pid, processAlive } = this.o.adapter;
    const root = sys.join(sys.cacheDir(), "spares");
    const names = await sys.list(root).catch(() => [] as string[]);
    for (const name of names) {
      const m = FOLDER.exec(name);
      if (!m) continue;
      const owner = m[1] === undefined ? undefined : Number(m[1]);
      const stale = owner === undefined ? Date.now() - Number.parseInt(m[2]!, 36) > OLD_FOLDER_MS : owner !== pid && !processAlive(owner);
      if (stale) this.removeFolder(sys.join(root, name));
    }
  }

  private removeFolder(folder: string): void {
    // never an unhandled rejection: one took a host down (ENOTEMPTY, a file still being
    // written into the folder as rm emptied it)
    const removed: Promise<void> = this.o.adapter.sys
      .remove(folder)
      .catch((e) => this.o.log.error(`a spare's folder ${folder} could not be removed: ${(e as Error).message}`))
      .finally(() => this.removing.delete(removed));
    this.removing.add(removed);
  }

  /** A function this host serves: spares of its profile are kept (for the first MAX_PROFILES profiles). */
  register(spec: FunctionSpec): void {
    const profile = spareProfile(spec, this.o.adapter);
    if (!profile || this.stopped) return;
    const key = keyOf(profile);
    if (this.profiles.has(key) || this.profiles.size >= MAX_PROFILES) return;
    this.profiles.set(key, { profile, spares: [], target: BASE_SPARES, warm: false, lastWanted: 0, failures: 0, retryAt: 0 });
    setTimeout(() => this.fill(key), 0);
  }

  /**
   * A ready spare for `spec`, now its instance's; undefined when there is none. Only a miss that
   * a request waits on (`wanted`) keeps more spares: a host's load check takes one per function
   * in turn, and each found the last one's replacement still starting, so a host that started
   * with a few process-lane functions kept MAX_SPARES per profile for a minute.
   */
  take(spec: FunctionSpec, wanted = true): GuestLink | undefined {
    const profile = spareProfile(spec, this.o.adapter);
    const p = profile && this.profiles.get(keyOf(profile));
    if (!p || this.stopped) return undefined;
    if (wanted) p.lastWanted = Date.now();
    const at = p.spares.findIndex((s) => s.ready);
    if (at < 0) {
      if (p.warm && wanted) p.target = Math.min(MAX_SPARES, p.target + 1); // wanted, none ready: keep more
      return undefined;
    }
    const spare = p.spares.splice(at, 1)[0]!;
    spare.owner = spec.name;
    this.fill(keyOf(p.profile));
    return this.handOver(spare, p.profile, spec);
  }

  /** Spares started (a process each) and not yet taken. */
  get count(): number {
    let n = 0;
    for (const p of this.profiles.values()) n += p.spares.filter((s) => s.link).length;
    return n;
  }

  describe(): SpareInfo[] {
    return [...this.profiles.values()].map((p) => ({
      ...p.profile,
      ready: p.spares.filter((s) => s.ready).length,
      starting: p.spares.filter((s) => !s.ready).length,
    }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([...this.profiles.values()].flatMap((p) => p.spares.splice(0).map((s) => s.link?.kill())));
    // those of spares that became instances too: the pools stopped them before
    await Promise.all([...this.removing]);
  }

  /** Start spares until the profile has its target (unless it is backing off after failures). */
  private fill(key: string): void {
    const p = this.profiles.get(key);
    if (!p || this.stopped || Date.now() < p.retryAt) return;
    while (p.spares.length < p.target) void this.start(p);
  }

  private start(p: Profile): Promise<void> {
    const { adapter, log } = this.o;
    const { sys } = adapter;
    const key = keyOf(p.profile);
    const folder = sys.join(sys.cacheDir(), "spares", `${adapter.name}-${adapter.pid}-${Date.now().toString(36)}-${++nextSpareId}`);
    const spare: Spare = { folder, ready: false, owner: `spare-${p.profile.runtime}` };
    p.spares.push(spare);
    // (Sys.mkdirp keeps the cache folder private: one removed under the host is made again here)
    return sys
      .mkdirp(folder)
      .then(() => {
        // stopped meanwhile: a child spawned now has no one to stop it (an orphaned bwrap was
        // left waiting forever when a test host exited right after)
        if (this.stopped) return this.removeFolder(folder);
        const child = adapter.spawnChild(this.o.childFile, {
          runtime: p.profile.runtime,
          heapMb: p.profile.memoryMb,
          env: {}, // its function's env comes with `load`
          cwd: folder,
          files: [folder],
          grants: { net: false, read: [], write: [] },
          sandbox: p.profile.sandboxed,
          ...(this.o.snapshotEntry ? { snapshotEntry: this.o.snapshotEntry } : {}),
          onOutput: (stream, line) => log.fn(spare.owner, stream === "stderr" ? "error" : "log", line),
        });
        const guest = link(
          child,
          hostStreamEnd(child.pipe, (fn) => adapter.schedule(fn), childFrameLimit(p.profile)),
        );
        spare.link = guest;
        guest.end.onFrame((f) => {
          if (f.t !== "ready" || spare.ready) return;
          spare.ready = true;
          p.warm = true;
          p.failures = 0;
        });
        guest.onExit((exit) => {
          this.removeFolder(folder);
          const at = p.spares.indexOf(spare);
          if (at < 0) return; // taken: its instance reports its end
          p.spares.splice(at, 1);
          if (this.stopped) return;
          if (!spare.ready) {
            const wait = backOff(p);
            log.error(`a ${key} spare failed to start (${exit.stderrTail.split("\n").pop() || `code ${exit.code}, signal ${exit.signal}`}); trying again in ${wait} ms`);
          }
          this.fill(key);
        });
      })
      .catch((e) => {
        if (p.spares.includes(spare)) p.spares.splice(p.spares.indexOf(spare), 1);
        log.error(`a ${key} spare could not be started: ${(e as Error).message}; trying again in ${backOff(p)} ms`);
      });
  }

  /** The spare as its function's instance sees it: ready already, and given the bundle before `load`. */
  private handOver(spare: Spare, profile: SpareProfile, spec: FunctionSpec): GuestLink {
    const { sys } = this.o.adapter;
    const inner = spare.link!; // only a ready spare is handed over
    return {
      end: {
        ...inner.end,
        onFrame: (l) => {
          inner.end.onFrame(l);
          queueMicrotask(() => l({ t: "ready" }, 0)); // its `ready` came before this instance listened: say it again
        },
      },
      onExit: (l) => inner.onExit(l),
      kill: (failure) => inner.kill(failure),
      rss: () => inner.rss(),
      threads: () => inner.threads?.(),
      refusedTasks: () => inner.refusedTasks?.(),
      pid: () => inner.pid(),
      channelLost: () => inner.channelLost?.(),
      async prepareLoad(load: LoadSpec): Promise<LoadSpec> {
        const bundle = decodeURIComponent(new URL(load.bundleUrl).pathname);
        const copy = sys.join(spare.folder, bundle.slice(bundle.lastIndexOf("/") + 1));
        await sys.copy(bundle, copy);
        return { ...load, bundleUrl: sys.fileUrl(copy), ...(profile.sandboxed ? {} : { cwd: spec.dir }) };
      },
    };
  }

  private tick(): void {
    const now = Date.now();
    for (const [key, p] of this.profiles) {
      if (p.target > BASE_SPARES && now - p.lastWanted > DECAY_MS) p.target--;
      // extra spares beyond the target go once ready and unwanted
      while (p.spares.length > p.target) {
        const extra = p.spares.findIndex((s) => s.ready);
        if (extra < 0) break;
        void p.spares.splice(extra, 1)[0]!.link?.kill();
      }
      this.fill(key);
    }
  }
}
