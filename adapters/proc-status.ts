/**
 * What Linux says of a process in `/proc/PID/status`: its resident memory and its threads, which
 * the memory watchdog reads for each process-lane child (both undefined once it is gone).
 */
import { readFileSync } from "node:fs";

function statusField(pid: number, field: RegExp): number | undefined {
  try {
    const m = field.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** VmRSS of a process in bytes. */
export function rssOfPid(pid: number): number | undefined {
  const kb = statusField(pid, /VmRSS:\s+(\d+) kB/);
  return kb === undefined ? undefined : kb * 1024;
}

/** Threads of a process (each takes one of the machine's process ids). */
export function threadsOfPid(pid: number): number | undefined {
  return statusField(pid, /Threads:\s+(\d+)/);
}
