/**
 * Whether a process-lane child still holds its channel: its fd 0 (frames from the host) and fd 1
 * (frames to it). A function that closes either and keeps running (closeSync(1), then any open
 * takes that number: a library "closing" stdout onto /dev/null) writes its answers elsewhere,
 * or reads no more requests, and the host would see nothing: a sandboxed child's pipes never
 * end, because bwrap holds its own copy of both (README.md in this folder, Child processes).
 * So the memory watchdog asks /proc, one readlink per descriptor per poll.
 */
import { readdirSync, readlinkSync } from "node:fs";

const CHANNEL = [
  [0, "stdin, the requests from the host"],
  [1, "stdout, the answers to the host"],
] as const;

/** What fd 0 and 1 of `pid` name (`pipe:[N]`, `socket:[N]`), read once it is spawned; undefined if /proc cannot tell. */
export function channelOf(pid: number): [string, string] | undefined {
  const links = CHANNEL.map(([fd]) => linkOf(pid, fd));
  return links[0] && links[1] ? [links[0], links[1]] : undefined;
}

/**
 * Why process `pid` no longer holds `channel` (what `channelOf` read from the process spawned
 * with it: the runtime, or in a sandbox the bwrap above it, which the runtime inherited both
 * from); undefined while it holds both, or when it is gone or exiting (its exit says more).
 */
export function channelLost(pid: number, channel: readonly [string, string]): string | undefined {
  for (const [i, [fd, what]] of CHANNEL.entries()) {
    const now = linkOf(pid, fd);
    if (now === channel[i]) continue;
    // a process that exits gives up all its descriptors at once: a live runtime holds a dozen
    if (!holdsAny(pid)) return undefined;
    // not what it names now: a path of the host's would reach the client in the 502
    return `closed its channel to the host: its fd ${fd} (${what}) ${now === undefined ? "is closed" : "was opened on something else"}`;
  }
  return undefined;
}

function linkOf(pid: number, fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/fd/${fd}`);
  } catch {
    return undefined;
  }
}

function holdsAny(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).length > 0;
  } catch {
    return false;
  }
}
