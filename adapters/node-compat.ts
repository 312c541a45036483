/**
 * The parts of the adapter that use node:* modules which Node, Bun and Deno all implement the
 * same way (README.md in this folder): files, worker_threads, child processes with pipes, signals.
 * Each runtime file spreads this and adds serve().
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, statSync, watch } from "node:fs";
import { mkdir, readFile, realpath, stat, writeFile, rename } from "node:fs/promises";
import { availableParallelism, cpus } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { setImmediate } from "node:timers";
import type { ChildHandle, ChildOptions, GuestExit, RuntimeAdapter, RuntimeName, Sys, WorkerOptions } from "./types.ts";
import { childEnv } from "./child-args.ts";
import { childCommand, runtimeBinary } from "./child-command.ts";
import { channelLost, channelOf } from "./channel-fds.ts";
import { lineSplitter } from "./lines.ts";
import { fileOps } from "./files.ts";
import { defaultCacheDir, ensurePrivateDirSync, mkdirInsidePrivate } from "./private-dir.ts";
import { runWithCleanEnv, runWithKeepingAllocator } from "./env.ts";
import { sandboxSupport } from "./sandbox.ts";
import { childCgroup, pidsSupport } from "./pids-cgroup.ts";
import { killSandboxed, killStuckSandboxes, sandboxedPid, sandboxExit } from "./sandbox-process.ts";
import { readSecretFile } from "./secret-file.ts";
import { readStdin } from "./stdin.ts";
import { spawnWorker } from "./node-worker.ts";
import { bodyFileFor } from "./body-file.ts";
import { processAlive } from "./process-alive.ts";
import { holdFolder } from "./folder-hold.ts";
import { watchTree } from "./watch-tree.ts";
import { collectGarbage } from "./gc.ts";
import { rssOfPid, threadsOfPid } from "./proc-status.ts";

const STDERR_TAIL_LINES = 20;
/** How long the pipes may stay open after a child's exit before its end is reported anyway. */
const CLOSE_AFTER_EXIT_MS = 2000;

export const sys: Sys = {
  ...fileOps,
  readText: (p) => readFile(p, "utf8"),
  async writeText(p, text) {
    // write-then-rename so a reader (a starting worker) never sees half a file
    const tmp = `${p}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, p);
  },
  exists: async (p) => existsSync(p),
  isFile: async (p) => {
    try {
      return (await stat(p)).isFile();
    } catch {
      return false;
    }
  },
  mkdirp: async (p) => {
    const cache = defaultCacheDir();
    if (p.startsWith(cache + path.sep)) mkdirInsidePrivate(cache, p);
    else await mkdir(p, { recursive: true });
  },
  realpath: (p) => realpath(p),
  resolve: (...parts) => path.resolve(...parts),
  relative: (from, to) => path.relative(from, to),
  dirname: (p) => path.dirname(p),
  join: (...parts) => path.join(...parts),
  isAbsolute: (p) => path.isAbsolute(p),
  fileUrl: (p) => pathToFileURL(p).href,
  cacheDir: defaultCacheDir,
  ensurePrivateDir: async (p) => ensurePrivateDirSync(p),
  sha256: (text) => createHash("sha256").update(text).digest("hex"),
  readSecretFile,
  holdFolder,
  watch(paths, onChange) {
    // Watch each file's folder, not the file: editors that save by renaming a new file over the
    // old one leave a file watch on the deleted inode (Node/Bun get one last "rename", Deno
    // loses even that), and a folder watch also sees a missing file once it appears. A folder
    // is watched with every folder under it: a file a broken import needs may appear anywhere.
    const wanted = new Map<string, Set<string>>();
    const stops: (() => void)[] = [];
    for (const p of paths) {
      if (isDirectory(p)) stops.push(watchTree(p, onChange));
      else wanted.set(path.dirname(p), (wanted.get(path.dirname(p)) ?? new Set<string>()).add(path.basename(p)));
    }
    for (const [dir, names] of wanted) {
      try {
        const w = watch(dir, (_event, name) => {
          // without a name, the runtime did not say which entry: report every watched one
          for (const n of name == null ? names : names.has(String(name)) ? [String(name)] : []) onChange(path.join(dir, n));
        });
        w.on("error", () => {}); // the folder went away; the caller watches again after its next rebuild
        stops.push(() => w.close());
      } catch {
        // a folder that vanished between build and watch: the next rebuild watches it again
      }
    }
    return () => {
      for (const stop of stops) stop();
    };
  },
};

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * A process-lane child: frames go in on its stdin and come out of its stdout (binary, the same
 * for every child runtime); its stderr is its log.
 */
export function spawnChild(file: string, o: ChildOptions, host: RuntimeName, onSpawned?: (pid: number) => (() => void) | undefined): ChildHandle {
  // large bodies through a shared file (body-file.ts says for which children)
  const bodies = bodyFileFor(o);
  const stdio: ("pipe" | number)[] = ["pipe", "pipe", "pipe", ...(bodies?.stdio ?? [])];
  const run = childCommand(file, o, host, stdio.length, bodies);
  // its own pids cgroup where the host can make one, entered before the command runs (pids-cgroup.ts)
  const cgroup = childCgroup(run.command, run.args);
  const child = spawn(cgroup?.command ?? run.command, cgroup?.args ?? run.args, {
    stdio: [...stdio, ...run.stdio],
    env: childEnv(o),
    cwd: o.cwd,
  });
  for (const fd of run.opened) closeSync(fd);
  // fd 0 and 1 as spawned, which the runtime (in a sandbox, below bwrap) must keep holding
  const channel = child.pid ? channelOf(child.pid) : undefined;
  bodies?.spawned();
  const release = child.pid ? onSpawned?.(child.pid) : undefined;
  const tail: string[] = [];
  let heard = false; // it has written to stdout: its sandbox is set up
  let unread = 0; // bytes written to its stdin that the pipe has not taken (Bun and Deno hosts: below)
  child.stderr?.on(
    "data",
    lineSplitter((line) => {
      tail.push(line);
      if (tail.length > STDERR_TAIL_LINES) tail.shift();
      o.onOutput("stderr", line);
    }),
  );
  let exited: GuestExit | undefined;
  let spawnError: GuestExit["error"];
  let runtimePid: number | undefined;
  const exitListeners: ((e: GuestExit) => void)[] = [];
  const finish = (rawCode: number | null, rawSignal: string | null) => {
    if (exited) return;
    const { code, signal } = o.sandbox ? sandboxExit(rawCode, rawSignal) : { code: rawCode, signal: rawSignal };
    // read before its cgroup goes: a child that ends because a thread was refused ends for that
    const refused = cgroup?.refused();
    exited = { code, signal, stderrTail: tail.join("\n"), ...(spawnError ? { error: spawnError } : {}), ...(refused ? { refusedTasks: refused } : {}) };
    release?.();
    bodies?.close();
    cgroup?.remove();
    for (const l of exitListeners) l(exited);
  };
  // Without an 'error' listener a failed spawn crashes the host (README.md in this folder, Messages).
  child.on("error", (e: Error & { code?: string }) => {
    spawnError = { name: e.name, message: e.message, ...(e.code ? { code: e.code } : {}) };
    if (child.pid === undefined) finish(null, null);
  });
  // a write to a child that just died fails with EPIPE: its exit is reported by 'close'
  child.stdin?.on("error", () => {});
  // 'close' (not 'exit'): it comes after the pipes are drained, so every frame is read first.
  child.on("close", (code, signal) => finish(code, signal));
  // ...but one left in the sandbox can hold the pipes open once it is gone: report the end anyway
  child.on("exit", (code, signal) => {
    const late = () => {
      finish(code, signal);
      for (const s of [child.stdin, child.stdout, child.stderr]) s?.destroy();
    };
    setTimeout(late, CLOSE_AFTER_EXIT_MS).unref();
  });
  // In a sandbox our child is bwrap: the guest is the runtime it started (found once).
  const guestPid = (): number | undefined => {
    if (!o.sandbox || !child.pid) return child.pid;
    runtimePid ??= exited ? undefined : sandboxedPid(child.pid);
    return runtimePid;
  };
  return {
    pipe: {
      write: (bytes, written) => {
        if (!child.stdin?.writable) return written?.();
        if (host === "node") return void child.stdin.write(bytes, written && (() => written()));
        // Bun's and Deno's child stdin keep what the pipe has not taken out of writableLength
        // (Bun: 0 always; Deno: a child reading nothing let its host hold 257 MB of answers in
        // one of three runs): counted here, until each write's callback
        const n = bytes.byteLength;
        unread += n;
        child.stdin.write(bytes, () => {
          unread -= n;
          written?.();
        });
      },
      unread: () => (host === "node" ? (child.stdin?.writableLength ?? 0) : unread),
      onData: (l) =>
        void child.stdout?.on("data", (chunk: Buffer) => {
          if (!heard) bodies?.heard();
          heard = true;
          l(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        }),
      // the host's end reads in turns (runtime/channel/stream-end.ts, FRAMES_PER_TURN): paused, the pipe fills and the child's writes wait
      pause: () => void child.stdout?.pause(),
      resume: () => void child.stdout?.resume(),
      ...(bodies ? { file: bodies.io } : {}),
    },
    onExit: (l) => (exited ? l(exited) : void exitListeners.push(l)),
    kill: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        // killed before it said a word, its bwrap may make the sandbox's PID 1 after the look
        // below and before the kill lands: that one then waits for ever (bubblewrap#633;
        // README.md in this folder, Sandbox: a host stopped while a spare starts)
        const early = o.sandbox && !heard;
        if (o.sandbox && child.pid) killSandboxed(child.pid);
        exitListeners.push(() => {
          if (early) killStuckSandboxes(`${sys.cacheDir()}/`);
          resolve();
        });
        child.kill("SIGKILL");
      }),
    rss: () => {
      const pid = guestPid();
      return pid ? rssOfPid(pid) : undefined;
    },
    threads: () => {
      const pid = guestPid();
      return pid ? threadsOfPid(pid) : undefined;
    },
    refusedTasks: () => cgroup?.refused(),
    pid: guestPid,
    channelLost: () => {
      const pid = guestPid();
      return pid && channel && !exited ? channelLost(pid, channel) : undefined;
    },
  };
}

/** Everything but serve/name/version/caps, shared by the three adapters. */
export function commonAdapter(host: RuntimeName, heapLimit: boolean) {
  return {
    sys,
    spawnWorker: (file: string, o: WorkerOptions) => spawnWorker(file, o, heapLimit),
    spawnChild: (file: string, o: ChildOptions) => spawnChild(file, o, host),
    sandbox: () => ({ ...sandboxSupport(), threads: pidsSupport().detail }),
    runtimeBinary: (rt: RuntimeName) => runtimeBinary(host, rt),
    runWithCleanEnv: () => runWithCleanEnv(host),
    runWithKeepingAllocator: () => runWithKeepingAllocator(host),
    schedule: (fn: () => void) => void setImmediate(fn),
    onSignal: (signal: "SIGINT" | "SIGTERM", listener: () => void) => void process.on(signal, listener),
    exit: (code: number): never => process.exit(code),
    pid: process.pid,
    processAlive,
    killStuckSandboxes: () => killStuckSandboxes(`${sys.cacheDir()}/`),
    argv: () => process.argv.slice(2),
    cwd: () => process.cwd(),
    hostRss: () => process.memoryUsage.rss(),
    cores: () => (typeof availableParallelism === "function" ? availableParallelism() : cpus().length),
    collectGarbage,
    // getrusage(RUSAGE_SELF) on Node, Bun and Deno alike: worker threads count (README.md in this folder, Metrics)
    hostCpu: () => {
      const { user, system } = process.cpuUsage();
      return { user: user / 1e6, system: system / 1e6 };
    },
    writeOut: (text: string) => void process.stdout.write(text),
    writeErr: (text: string) => void process.stderr.write(text),
    isTTY: () => Boolean(process.stdout.isTTY),
    readStdin,
    color: () => Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
  } satisfies Partial<RuntimeAdapter>;
}
