/**
 * Deno host only: the pipes to a process-lane child are grown from 64 KiB to 512 KiB with
 * fcntl(F_SETPIPE_SZ), through Deno's FFI. Deno's node:child_process gives a child pipes where
 * Node and Bun give socketpairs, and a 256 KiB body crossed a 64 KiB pipe in four writes, each a
 * wake-up on both sides (README.md in this folder, Child processes, has the measurements).
 *
 * The host's ends are found through /proc: the child's fd 0 and 1 name two pipes, and the host's
 * descriptors naming the same pipes are its ends (in the sandbox, the child is bubblewrap, whose
 * fd 0 and 1 are the guest's). Where this cannot be done (no FFI: libc.ts; /proc unreadable; the
 * call refused), the pipes stay as they are and nothing is said.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { libc } from "./libc.ts";

const F_SETPIPE_SZ = 1031;
const PIPE_BYTES = 512 * 1024;

let grown = 0;

/**
 * An unprivileged user's pipes may hold `pipe-user-pages-soft` pages in all (64 MiB by default);
 * past it, every new pipe the user makes gets a single page. So grown pipes take at most a
 * quarter of it: with the default, 16 children's two pipes at once.
 */
const budget = (() => {
  try {
    const pages = Number(readFileSync("/proc/sys/fs/pipe-user-pages-soft", "utf8").trim());
    return pages > 0 ? Math.floor((pages * 4096) / 4 / (2 * PIPE_BYTES)) : Number.POSITIVE_INFINITY;
  } catch {
    return 0;
  }
})();

const target = (path: string): string | undefined => {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
};

/** Grow the pipes of child `pid`; the returned function gives their share back once it is gone. */
export function growChildPipes(pid: number): (() => void) | undefined {
  if (grown >= budget) return undefined;
  const fcntl = libc()?.fcntl;
  if (!fcntl) return undefined;
  const pipes = new Set([target(`/proc/${pid}/fd/0`), target(`/proc/${pid}/fd/1`)].filter((t) => t?.startsWith("pipe:")));
  if (pipes.size === 0) return undefined;
  let fds: string[];
  try {
    fds = readdirSync("/proc/self/fd");
  } catch {
    return undefined;
  }
  let done = 0;
  for (const fd of fds) {
    if (pipes.size === 0) break;
    const pipe = target(`/proc/self/fd/${fd}`);
    if (!pipes.has(pipe)) continue;
    pipes.delete(pipe);
    if (fcntl(Number(fd), F_SETPIPE_SZ, PIPE_BYTES) > 0) done++;
  }
  if (done === 0) return undefined;
  grown++;
  return () => void grown--;
}
