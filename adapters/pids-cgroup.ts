/**
 * A pids cgroup per process-lane child, where the host may make one: the kernel then refuses
 * (EAGAIN) a thread or process past `pids.max`, which the watchdog's readings every 250 ms could
 * not (a bun child started 2,169-2,965 threads before one saw it past 2,048: README.md in this
 * folder, Sandbox). Where it cannot (no pids controller, a read-only or undelegated cgroup file
 * system, cgroup v2 with the host's own cgroup holding processes), the watchdog alone bounds
 * threads, and `pidsSupport()` says why.
 *
 * The child must be in its cgroup before any of its code runs, and JavaScript cannot spawn into
 * one (no CLONE_INTO_CGROUP): the command runs under `sh`, which writes its own process id into
 * the cgroup and then execs it (prlimit, then bwrap): everything the child starts is inside.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { MAX_THREADS, POLL_MS } from "../runtime/pool/watchdog.ts";
import { processAlive } from "./process-alive.ts";

/** Tasks of the sandbox that are not the runtime's threads: our child bwrap, and the sandbox's PID 1. */
const SANDBOX_TASKS = 2;
/** pids.max of a child's cgroup: MAX_THREADS threads for the runtime, as the watchdog allows. */
export const PIDS_MAX = MAX_THREADS + SANDBOX_TASKS;
/** How long a removal waits for the last tasks of a child to be gone (killed ones being reaped). */
const REMOVE_TRIES = 100;
const REMOVE_EVERY_MS = 20;
const SH = "/bin/sh";

interface Hierarchy {
  /** The folder under which each child's cgroup is made: the host's own cgroup. */
  base: string;
  version: 1 | 2;
}

let found: Hierarchy | { why: string } | undefined;
/** Children's cgroups made and not yet removed: removed at exit. */
const live = new Set<string>();
let made = 0;

/** Whether children get a pids cgroup here, and a line for the start-up table saying so. */
export function pidsSupport(): { available: boolean; detail: string } {
  found ??= detect();
  if ("why" in found) return { available: false, detail: `threads: at most ${MAX_THREADS} a child, read every ${POLL_MS} ms by the watchdog (no pids cgroup: ${found.why})` };
  return { available: true, detail: `threads: at most ${MAX_THREADS} a child, by a pids cgroup each (cgroup v${found.version}, ${found.base}, pids.max ${PIDS_MAX})` };
}

/** The folder holding the children's cgroups (`lanes-HOSTPID-N`), where there are any. */
export function pidsCgroupBase(): string | undefined {
  found ??= detect();
  return "why" in found ? undefined : found.base;
}

export interface ChildCgroup {
  /** The command that enters the cgroup, then execs `command`. */
  command: string;
  args: string[];
  /** Tasks the kernel refused the child (fork or thread creation past pids.max); undefined if unreadable. */
  refused(): number | undefined;
  /** Remove the cgroup once the child has ended: what is left in it is killed first. */
  remove(): void;
}

/** A new cgroup for one child running `command args`, or undefined where the host cannot make one. */
export function childCgroup(command: string, args: string[]): ChildCgroup | undefined {
  found ??= detect();
  if ("why" in found) return undefined;
  const dir = path.join(found.base, `lanes-${process.pid}-${++made}`);
  try {
    mkdirSync(dir);
    writeFileSync(path.join(dir, "pids.max"), String(PIDS_MAX));
  } catch {
    // the cgroup file system changed under the host (remounted, delegated elsewhere): this child
    // runs without one, bounded by the watchdog as where there is none
    tryRemove(dir);
    return undefined;
  }
  live.add(dir);
  // The shell writes its process id ($$, also in a subshell) from a subshell: a redirection in
  // the shell itself would point its fd 1 at the cgroup file for a moment, and the host reads
  // the channel it spawned the child with from that very fd (channel-fds.ts); it took that file
  // for the channel once in four starts, and stopped the child as "closed its channel".
  // Fails closed: a child that could not enter its cgroup does not start.
  const enter = `(echo $$ > "$1/cgroup.procs") || { echo "lanes: could not enter the pids cgroup $1" >&2; exit 126; }; shift; exec "$@"`;
  return {
    command: SH,
    args: ["-c", enter, "sh", dir, command, ...args],
    refused: () => refusedIn(dir),
    remove: () => removeWhenEmpty(dir, REMOVE_TRIES),
  };
}

function refusedIn(dir: string): number | undefined {
  try {
    const n = /^max (\d+)/m.exec(readFileSync(path.join(dir, "pids.events"), "utf8"))?.[1];
    return n === undefined ? undefined : Number(n);
  } catch {
    return undefined;
  }
}

function removeWhenEmpty(dir: string, tries: number): void {
  if (tryRemove(dir) || tries <= 0) return;
  // something of the child's is still there: kill it (it can only be the child's own), try again
  for (const pid of tasksIn(dir)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  setTimeout(() => removeWhenEmpty(dir, tries - 1), REMOVE_EVERY_MS).unref();
}

function tryRemove(dir: string): boolean {
  try {
    rmdirSync(dir);
  } catch (e) {
    if ((e as { code?: string }).code !== "ENOENT") return false;
  }
  live.delete(dir);
  return true;
}

function tasksIn(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function detect(): Hierarchy | { why: string } {
  if (process.platform !== "linux") return { why: `cgroups need Linux (this is ${process.platform})` };
  if (process.env.LANES_PIDS_CGROUP === "off") return { why: "LANES_PIDS_CGROUP=off" };
  if (!existsSync(SH)) return { why: `${SH} is missing` };
  let at: Hierarchy | { why: string };
  try {
    at = hierarchy(readFileSync("/proc/self/cgroup", "utf8"), readFileSync("/proc/self/mountinfo", "utf8"));
  } catch (e) {
    return { why: `cannot read /proc/self/cgroup or mountinfo: ${(e as Error).message}` };
  }
  if ("why" in at) return at;
  const probe = path.join(at.base, `lanes-${process.pid}-0`);
  try {
    if (at.version === 2) enablePids(at.base);
    mkdirSync(probe);
    writeFileSync(path.join(probe, "pids.max"), String(PIDS_MAX));
  } catch (e) {
    tryRemove(probe);
    return { why: `cannot make one under ${at.base}: ${(e as Error).message.replace(/^(\w+): /, "$1 ")}` };
  }
  tryRemove(probe);
  removeStale(at.base);
  process.on("exit", () => {
    for (const dir of live) tryRemove(dir);
  });
  return at;
}

/** Where the pids controller is, and the host's own cgroup in it; cgroup v2 first. */
export function hierarchy(cgroups: string, mountinfo: string): Hierarchy | { why: string } {
  const mounts = mountinfo
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [left, right] = line.split(" - ");
      const f = left!.split(" ");
      const r = (right ?? "").split(" ");
      return { root: unescapeOctal(f[3] ?? "/"), point: unescapeOctal(f[4] ?? ""), type: r[0] ?? "", options: (r[2] ?? "").split(",") };
    });
  const own = (match: (controllers: string[]) => boolean) => {
    for (const line of cgroups.split("\n")) {
      const m = /^\d+:([^:]*):(.*)$/.exec(line);
      if (m && match(m[1] === "" ? [] : m[1]!.split(","))) return m[2]!;
    }
    return undefined;
  };
  const inside = (mount: { root: string; point: string }, cg: string) =>
    path.resolve(mount.point, `.${mount.root !== "/" && (cg === mount.root || cg.startsWith(`${mount.root}/`)) ? cg.slice(mount.root.length) : cg}`);
  const v1 = mounts.find((m) => m.type === "cgroup" && m.options.includes("pids"));
  const v1Own = own((c) => c.includes("pids"));
  if (v1 && v1Own !== undefined) return { base: inside(v1, v1Own), version: 1 };
  const v2 = mounts.find((m) => m.type === "cgroup2");
  const v2Own = own((c) => c.length === 0);
  if (v2 && v2Own !== undefined) {
    const base = inside(v2, v2Own);
    const controllers = readOr(path.join(base, "cgroup.controllers")).split(/\s+/);
    if (controllers.includes("pids")) return { base, version: 2 };
    return { why: `the pids controller is not available to ${base} (cgroup v2; its controllers: ${controllers.filter(Boolean).join(" ") || "none"})` };
  }
  return { why: "no pids controller is mounted (neither a cgroup v1 pids hierarchy nor cgroup v2)" };
}

/**
 * cgroup v2 gives a cgroup's children a controller only when it is in the cgroup's
 * subtree_control, which the kernel refuses (EBUSY) to a cgroup that holds processes, the root
 * excepted: the host's own cgroup does, so this works at the root or where pids is already on.
 */
function enablePids(base: string): void {
  if (readOr(path.join(base, "cgroup.subtree_control")).split(/\s+/).includes("pids")) return;
  try {
    writeFileSync(path.join(base, "cgroup.subtree_control"), "+pids");
  } catch (e) {
    const busy = (e as { code?: string }).code === "EBUSY";
    throw new Error(
      busy
        ? `the host's cgroup holds processes, so cgroup v2 lets it give its children no controller (run lanes in a cgroup of its own, with pids delegated, whose processes are in a child cgroup)`
        : (e as Error).message,
    );
  }
}

/** Children's cgroups that hosts no longer running left (killed before their exit handler ran). */
function removeStale(base: string): void {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = /^lanes-(\d+)-\d+$/.exec(name)?.[1];
    if (pid && Number(pid) !== process.pid && !processAlive(Number(pid))) tryRemove(path.join(base, name));
  }
}

function readOr(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
