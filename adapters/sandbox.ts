/**
 * The OS sandbox of the process lane: each child runs under bubblewrap (`bwrap`, the sandbox
 * Flatpak uses, https://github.com/containers/bubblewrap) in its own user, PID, mount, network,
 * IPC and UTS namespaces, as uid 65534 with no capabilities. Its file system holds only what it
 * needs to run and what its manifest grants; a seccomp filter (./seccomp.ts) lets it start
 * threads but no process; `prlimit` caps its open files. Measurements and the reasons for each
 * choice: README.md in this folder, Sandbox.
 *
 * This file turns a plain description (runtime binary, files, grants, limits) into the command
 * that runs the child inside the sandbox; ./sandbox-process.ts reads back what bwrap hides.
 */
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { Grants, SandboxSupport } from "./types.ts";
import { noProcessFilter } from "./seccomp.ts";
import { ensurePrivateDirSync } from "./private-dir.ts";
import { onPath } from "./on-path.ts";

/** The sandbox's user and group: nobody/nogroup, which own nothing. */
const SANDBOX_ID = "65534";
/** Where the runtime binary is inside the sandbox. */
const RUNTIME_DIR = "/lanes/bin";
/** The sandbox user's home (passwd): a deno child's cache folder, absent for the others. */
const HOME = "/lanes/home";
/** Open files per child (RLIMIT_NOFILE, soft and hard): a runtime idles at 20-40. */
export const OPEN_FILES = 1024;

/** OPEN_FILES, or the host's own hard limit if lower: prlimit cannot raise it without privilege. */
let openFiles: number | undefined;
function openFilesLimit(): number {
  if (openFiles !== undefined) return openFiles;
  const hard = /^Max open files\s+\S+\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1];
  openFiles = hard ? Math.min(OPEN_FILES, Number(hard)) : OPEN_FILES;
  return openFiles;
}

export interface SandboxPlan {
  /** The runtime binary and its arguments, as they would run outside. */
  binary: string;
  args: string[];
  /** Files the child loads (guest entry, bundle): read-only, at the same paths. */
  files: string[];
  grants: Grants;
  /** The function's folder: created empty (grants appear under it), the working directory. */
  cwd: string;
  /** Size of the private /tmp (a tmpfs: it is memory). */
  tmpMb: number;
  /** The largest file the child may write (`prlimit --fsize`), if capped: adapters/body-file.ts. */
  fileSizeBytes?: number;
  /** A deno child's body file, bound where it opens it (adapters/body-file.ts). */
  bodyFile?: { from: string; to: string } | undefined;
  /** The fd number at which the child gets the seccomp program (its index in `stdio`). */
  seccompFd: number;
  /** A private folder for the support files (seccomp program, passwd, group). */
  supportDir: string;
  /** PWD in the child's environment (the manifest's env), if it has one. */
  pwd: string | undefined;
  /** Keep the host's network namespace even without a network grant (`lanes dev --inspect`: the inspector's port). */
  shareNet?: boolean;
  /**
   * The home of a deno child (adapters/deno-home.ts), mounted read-only: the caches the host
   * warmed for the guest, which no child can write. Other runtimes get no home.
   */
  denoHome: string | undefined;
}

export interface SandboxCommand {
  command: string;
  args: string[];
  /**
   * stdio entries to append after the first `seccompFd` ones: the seccomp program, then
   * /dev/null over every descriptor the host inherited without close-on-exec (which would
   * otherwise reach the sandbox: an open folder there is a way out). Close the numbers once spawned.
   */
  stdio: (number | "ignore")[];
  /** The descriptors opened for `stdio`, to close once the child is spawned. */
  opened: number[];
}

type Tools = { bwrap?: string; prlimit?: string; env?: string };
let support: (SandboxSupport & Tools) | undefined;

/** Whether bwrap (and prlimit) are installed and work on this kernel: checked once. */
export function sandboxSupport(): SandboxSupport {
  support ??= detect();
  return { available: support.available, detail: support.detail };
}

function detect(): SandboxSupport & Tools {
  const install = "install it (Debian/Ubuntu: apt-get install bubblewrap)";
  if (process.platform !== "linux") return { available: false, detail: `bubblewrap needs Linux (this is ${process.platform})` };
  if (!noProcessFilter(process.arch)) return { available: false, detail: `no seccomp filter for CPU architecture ${process.arch}` };
  const bwrap = onPath("bwrap");
  if (!bwrap) return { available: false, detail: `bwrap was not found on PATH: ${install}` };
  const prlimit = onPath("prlimit");
  if (!prlimit) return { available: false, detail: "prlimit was not found on PATH: install util-linux" };
  const env = onPath("env");
  if (!env) return { available: false, detail: "env was not found on PATH: install coreutils" };
  let version = "bubblewrap";
  try {
    version = execFileSync(bwrap, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    // the same namespaces and options a child gets, around a command that does nothing
    execFileSync(bwrap, [...namespaceArgs(false), "--ro-bind", "/", "/", "true"], { stdio: ["ignore", "ignore", "pipe"], timeout: 10_000 });
  } catch (e) {
    const why = String((e as { stderr?: unknown }).stderr ?? (e as Error).message).trim();
    return { available: false, detail: `${bwrap} (${version}) cannot create a sandbox here: ${why} (lanes needs bubblewrap >= 0.8 and user namespaces)` };
  }
  return { available: true, detail: `${version} (${bwrap})`, bwrap, prlimit, env: realpathSync(env) };
}

function namespaceArgs(net: boolean): string[] {
  // biome-ignore format: bwrap's arguments read as flag and value pairs
  return [
    "--unshare-all",
    "--unshare-user",
    ...(net ? ["--share-net"] : []),
    "--uid", SANDBOX_ID,
    "--gid", SANDBOX_ID,
    "--disable-userns",
    "--die-with-parent",
    "--new-session",
  ];
}

/** The command that runs `plan` in the sandbox. Call only when sandboxSupport().available. */
export function sandboxCommand(plan: SandboxPlan): SandboxCommand {
  const { bwrap, prlimit, env } = support ?? detect();
  if (!bwrap || !prlimit || !env) throw new Error("lanes: the sandbox is not available on this machine");
  const files = supportFiles(plan.supportDir);
  const net = plan.grants.net !== false || plan.shareNet === true;
  const filter = net ? files.seccompNet : files.seccomp;
  // the real file: the sandbox holds it, not the symlinks (node_modules/.bin) or PATH that lead to it
  const found = path.isAbsolute(plan.binary) ? plan.binary : onPath(plan.binary);
  if (!found) throw new Error(`${plan.binary} was not found on PATH`);
  const binary = realpathSync(found);
  // Inside, the runtime is /lanes/bin/<name>, and its path outside is spelt with a "/./": Deno's
  // node:child_process rewrites any argument equal to Deno.execPath(), wherever it stands
  // (README.md in this folder, Sandbox), and a Deno host's execPath is this very file.
  const inside = `${RUNTIME_DIR}/${path.basename(binary)}`;
  const source = `${path.dirname(binary)}/./${path.basename(binary)}`;
  const ro = (p: string) => ["--ro-bind", p, p];
  // biome-ignore format: bwrap's arguments read as flag and value pairs
  const args = [
    `--nofile=${openFilesLimit()}:${openFilesLimit()}`,
    "--core=0",
    ...(plan.fileSizeBytes ? [`--fsize=${plan.fileSizeBytes}`] : []),
    "--",
    bwrap,
    ...namespaceArgs(net),
    "--hostname", "lanes",
    "--proc", "/proc",
    // PID 1 is bwrap, waiting for the runtime without the seccomp filter, and as the same user:
    // through /proc/1/mem a function could write code into it that starts processes. Hidden.
    "--perms", "0555", "--tmpfs", "/proc/1",
    "--dev", "/dev",
    // first: a function's folder, its grants or the cache may lie under /tmp, and stay visible
    "--size", String(plan.tmpMb * 1024 * 1024),
    "--perms", "1777",
    "--tmpfs", "/tmp",
    ...sealedUnderTmp([...plan.files, ...plan.grants.read, ...plan.grants.write], plan.cwd),
    ...libraryArgs(),
    "--ro-bind", files.passwd, "/etc/passwd",
    "--ro-bind", files.group, "/etc/group",
    "--ro-bind-try", "/etc/localtime", "/etc/localtime",
    // name resolution, only for a child that may use the network
    ...(net ? NET_FILES.flatMap((f) => ["--ro-bind-try", f, f]) : []),
    "--ro-bind", source, inside,
    "--ro-bind", env, `${RUNTIME_DIR}/env`,
    ...(plan.denoHome ? ["--ro-bind", plan.denoHome, HOME] : []),
    ...plan.files.flatMap(ro),
    "--dir", plan.cwd,
    ...plan.grants.read.flatMap(ro),
    ...plan.grants.write.flatMap((p) => ["--bind", p, p]),
    ...(plan.bodyFile ? ["--bind", plan.bodyFile.from, plan.bodyFile.to] : []),
    "--chdir", plan.cwd,
    // the folders bwrap made to hold the binds are in a writable tmpfs: seal it; and --dev's /dev
    // is a tmpfs of its own (up to half the machine's memory, outside memoryMb): writes to its
    // devices still work on a read-only mount, new files do not
    "--remount-ro", "/",
    "--remount-ro", "/dev",
    "--seccomp", String(plan.seccompFd),
    "--",
    // bwrap always sets PWD: take it out again, so the child's environment is the manifest's
    `${RUNTIME_DIR}/env`,
    ...(plan.pwd === undefined ? ["-u", "PWD"] : [`PWD=${plan.pwd}`]),
    inside,
    ...plan.args,
  ];
  const seccomp = openSync(filter, "r");
  const stdio: (number | "ignore")[] = [seccomp];
  const opened = [seccomp];
  for (const fd of inheritedFds().filter((fd) => fd > plan.seccompFd)) {
    while (plan.seccompFd + stdio.length < fd) stdio.push("ignore");
    // one descriptor per entry: Deno's node:child_process fails the spawn when one repeats
    const devNull = openSync("/dev/null", "r");
    opened.push(devNull);
    stdio.push(devNull);
  }
  return { command: prlimit, args, stdio, opened };
}

const O_CLOEXEC = 0o2000000;

/**
 * This process's descriptors above stderr that a child would inherit (no close-on-exec): ones
 * the host was started with. Node and Deno pass them to every child, and bwrap into the sandbox
 * (README.md in this folder, Sandbox). Ones open on /dev/null (Deno keeps one) are harmless: left.
 */
function inheritedFds(): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc/self/fd")) {
    const fd = Number(name);
    if (fd <= 2) continue;
    try {
      const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1];
      if (flags === undefined || (parseInt(flags, 8) & O_CLOEXEC) !== 0) continue;
      if (readlinkSync(`/proc/self/fd/${fd}`) !== "/dev/null") out.push(fd);
    } catch {
      // closed meanwhile (the one readdir used, for one)
    }
  }
  return out.sort((a, b) => a - b);
}

/**
 * The folders bwrap makes to hold binds under the private /tmp would be writable by the child
 * (it owns that tmpfs), so a function whose folder lies under /tmp could write beside its own
 * files there (privately: the host never sees it). Made ahead as 0555, they read as on the host.
 */
function sealedUnderTmp(targets: string[], cwd: string): string[] {
  const folders = new Set<string>();
  for (const t of [...targets, `${cwd}/.`]) {
    for (let d = path.dirname(t); d.startsWith("/tmp/"); d = path.dirname(d)) folders.add(d);
  }
  return [...folders].sort((a, b) => a.length - b.length).flatMap((d) => ["--perms", "0555", "--dir", d]);
}

const NET_FILES = ["/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf"];

/** The dynamic loader and shared libraries, as the host lays them out (merged /usr or not). */
let libraries: string[] | undefined;
function libraryArgs(): string[] {
  libraries ??= ["/lib", "/lib64", "/lib32", "/libx32", "/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/libx32", "/etc/ld.so.cache"].flatMap((p) => {
    try {
      const st = lstatSync(p);
      if (st.isSymbolicLink()) return ["--symlink", readlinkSync(p), p];
      return ["--ro-bind", p, p];
    } catch {
      return [];
    }
  });
  return libraries;
}

/**
 * passwd/group naming the sandbox's user and its home: Deno looks up its cache folder from HOME
 * or the passwd entry and will not start without one (README.md in this folder, Sandbox).
 * Written once per process and cache folder; rewritten if they differ, and again if they are
 * gone (the cache folder emptied under a running host: runtime/host/guest-files.ts).
 */
const written = new Map<string, { seccomp: string; seccompNet: string; passwd: string; group: string }>();
function supportFiles(dir: string) {
  const known = written.get(dir);
  if (known && existsSync(known.seccomp) && existsSync(known.seccompNet) && existsSync(known.passwd) && existsSync(known.group)) return known;
  ensurePrivateDirSync(dir);
  const want = (name: string, content: Uint8Array | string) => {
    const file = path.join(dir, name);
    const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
    let same = false;
    try {
      same = Buffer.compare(readFileSync(file), bytes) === 0;
    } catch {
      // missing
    }
    if (!same) writeFileSync(file, bytes, { mode: 0o644 });
    return file;
  };
  const files = {
    seccomp: want(`sandbox-seccomp-${process.arch}.bpf`, noProcessFilter(process.arch)!),
    seccompNet: want(`sandbox-seccomp-net-${process.arch}.bpf`, noProcessFilter(process.arch, true)!),
    passwd: want("sandbox-passwd", `nobody:x:${SANDBOX_ID}:${SANDBOX_ID}:nobody:${HOME}:/usr/sbin/nologin\n`),
    group: want("sandbox-group", `nogroup:x:${SANDBOX_ID}:\n`),
  };
  written.set(dir, files);
  return files;
}
