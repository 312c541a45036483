/**
 * What bwrap hides from the host about the runtime it runs (README.md in this folder, Sandbox): the
 * signal the runtime died of, and its process id.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { constants as os } from "node:os";

const signalNames = new Map(Object.entries(os.signals).map(([name, n]) => [n as number, name]));

/**
 * bwrap exits with 128 + N when the runtime inside died of signal N (measured: SIGABRT → 134,
 * SIGTRAP → 133, SIGKILL → 137). Turn that back into the signal, so an out-of-memory abort
 * reads the same with or without the sandbox.
 */
export function sandboxExit(code: number | null, signal: string | null): { code: number | null; signal: string | null } {
  if (code !== null && code > 128 && code < 128 + 65) {
    const name = signalNames.get(code - 128);
    if (name) return { code: null, signal: name };
  }
  return { code, signal };
}

/**
 * The runtime's process id on the host: bwrap (our child) → bwrap (PID 1 of the sandbox) →
 * the runtime. Undefined until the runtime has been started. What lies below PID 1 is the
 * runtime whatever it calls itself: a function may name its own process (/proc/self/comm), and
 * one that named itself "bwrap" was taken for a third bwrap, so no process was found and the
 * memory watchdog read no RSS (a node child of memoryMb 64 held 600 MB and answered).
 */
export function sandboxedPid(bwrapPid: number): number | undefined {
  // not yet bwrap: the shell that enters the child's pids cgroup (pids-cgroup.ts), whose one
  // child, the subshell that writes its id, was once taken for the runtime; or prlimit
  if (commOf(bwrapPid) !== "bwrap") return undefined;
  let pid = bwrapPid;
  for (let depth = 0; depth < 2; depth++) {
    const kids = childrenOf(pid);
    if (kids.length === 0) return undefined;
    pid = kids[0]!;
    if (depth === 1 || commOf(pid) !== "bwrap") return pid;
  }
  return undefined;
}

/**
 * SIGKILL every process below our bwrap child, down to the runtime. Killing the outer bwrap
 * alone left the sandbox's PID 1 (the inner bwrap) alive twice on 2026-12-02 (a child killed
 * right after its spawn), orphaned and holding the child's pipes open.
 */
export function killSandboxed(bwrapPid: number): void {
  let pid = bwrapPid;
  for (let depth = 0; depth < 4; depth++) {
    const kids = childrenOf(pid);
    if (kids.length === 0) return;
    for (const kid of kids) {
      try {
        process.kill(kid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    pid = kids[0]!;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/**
 * Kill the sandboxes a host that died left stuck, and say how many. When our bwrap child dies
 * right after it started its sandbox's PID 1 (the inner bwrap), before telling it to go on, that
 * process waits for it forever: its parent-death signal is not set yet, so nothing ends it
 * (bubblewrap#633, https://github.com/containers/bubblewrap/issues/633). One was found after a
 * clean-clone test run (2026-12-03): parent 1, asleep in an eventfd read, alone in its PID
 * namespace. Such a process is a `bwrap` in a PID namespace of its own (an outer bwrap shares
 * ours), whose parent is PID 1 (a live host's inner bwrap has our bwrap child as parent), with
 * no child of its own (a set-up sandbox has its runtime), whose command line names `mark`
 * (lanes' cache folder, which every sandbox of ours binds).
 */
export function killStuckSandboxes(mark: string): number {
  let killed = 0;
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return 0;
  }
  for (const d of pids) {
    const pid = Number(d);
    if (commOf(pid) !== "bwrap" || parentOf(pid) !== 1 || childrenOf(pid).length > 0 || !inOtherPidNamespace(pid)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    if (!cmdline.split("\0").some((arg) => arg.startsWith(mark))) continue;
    try {
      process.kill(pid, "SIGKILL");
      killed++;
    } catch {
      // gone already, or not ours
    }
  }
  return killed;
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

function inOtherPidNamespace(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`) !== readlinkSync("/proc/self/ns/pid");
  } catch {
    return false;
  }
}
