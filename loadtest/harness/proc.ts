/**
 * Resident memory and CPU time of a process and its descendants, from Linux /proc. The bench
 * reads them from outside the host, so measuring never runs on the host's threads.
 */
import { readdirSync, readFileSync } from "node:fs";

const TICK_MS = 10; // USER_HZ is 100 on Linux: /proc/PID/stat times are in 1/100 s

export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

interface Stat {
  ppid: number;
  cpuMs: number;
  /** Minor page faults: pages the process touched for the first time since it got them (or got them back) from the kernel. */
  minorFaults: number;
}

function stat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name (field 2) may hold spaces and parentheses: fields start after the last ')'
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(f[1]), cpuMs: (Number(f[11]) + Number(f[12])) * TICK_MS, minorFaults: Number(f[7]) };
  } catch {
    return undefined;
  }
}

/** `pid` and every process below it. */
export function processTree(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    const p = Number(name);
    if (!Number.isInteger(p)) continue;
    const s = stat(p);
    if (s) parent.set(p, s.ppid);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [p, pp] of parent) if (pp === tree[i]) tree.push(p);
  }
  return tree;
}

export interface Usage {
  cpuMs: number;
  minorFaults: number;
}

/** CPU time and minor page faults of each process in the tree under `pid`. */
export function usageSnapshot(pid: number): Map<number, Usage> {
  const snap = new Map<number, Usage>();
  for (const p of processTree(pid)) {
    const s = stat(p);
    if (s) snap.set(p, { cpuMs: s.cpuMs, minorFaults: s.minorFaults });
  }
  return snap;
}

/**
 * What `pid` itself (all its threads) and the processes below it (a host's children and their
 * sandboxes) used between two snapshots; a process born in between counts from zero.
 */
export function usageBetween(pid: number, before: Map<number, Usage>, after: Map<number, Usage>): { own: Usage; below: Usage } {
  const own = { cpuMs: 0, minorFaults: 0 };
  const below = { cpuMs: 0, minorFaults: 0 };
  for (const [p, end] of after) {
    const start = before.get(p) ?? { cpuMs: 0, minorFaults: 0 };
    const into = p === pid ? own : below;
    into.cpuMs += end.cpuMs - start.cpuMs;
    into.minorFaults += end.minorFaults - start.minorFaults;
  }
  return { own, below };
}

export function alive(pid: number): boolean {
  return stat(pid) !== undefined;
}

/** CPU time in ms that the whole machine spent busy (all cores, every process), from /proc/stat. */
export function machineBusyMs(): number {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
    return busy * TICK_MS;
  } catch {
    return 0;
  }
}

/** CPU ms this process (the bench, with autocannon in it) has used. */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
