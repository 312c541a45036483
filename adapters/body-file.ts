/**
 * The file a process-lane child and its host share for large bodies (runtime/channel/body-file.ts
 * says how it is used). The host makes it in /dev/shm, a tmpfs (so it is memory, never disk),
 * opens it a second time for the child (an open file description of its own: a flag the child
 * sets on it, O_APPEND say, which would send the host's positional writes to the file's end,
 * stays on its side), and removes its name at once: no other process can open it. The child
 * gets it as descriptor 3 and knows it by its first 8 bytes.
 *
 * A sandboxed child could grow the file past what the lane uses, memory outside its limits: so
 * the sandbox caps the size of any file it writes (`prlimit --fsize`, sandbox.ts) at its /tmp's
 * size, which it could fill anyway, and a function that may write files of its own (a `write`
 * grant, where the cap would be a new limit) keeps its bodies in the pipe. `LANES_BODY_FILE=off`
 * keeps every child's bodies in the pipe (README.md in this folder, Channel, has the measurements).
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync, unlinkSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { BODY_FILE_MAGIC, type FileIo } from "../runtime/channel/body-file.ts";
import { processAlive } from "./process-alive.ts";
import type { ChildOptions } from "./types.ts";

/** The descriptor a child finds the file at (after stdin, stdout, stderr). */
export const CHILD_BODY_FD = 3;
/** Where a sandboxed deno child finds it. */
export const CHILD_BODY_PATH = "/lanes/body";
const SHM = "/dev/shm";

let shmIsTmpfs: boolean | undefined;

function shmUsable(): boolean {
  if (shmIsTmpfs === undefined) {
    try {
      shmIsTmpfs = readFileSync("/proc/mounts", "utf8")
        .split("\n")
        .some((line) => line.split(" ")[1] === SHM && line.split(" ")[2] === "tmpfs");
    } catch {
      shmIsTmpfs = false;
    }
    if (shmIsTmpfs) removeLeftovers();
  }
  return shmIsTmpfs;
}

/**
 * A deno child's file keeps its name until the child has started: a host that died in between
 * left it. Those of hosts that are gone are removed, once per host (others' cannot be: /dev/shm
 * is sticky).
 */
export function removeLeftovers(): void {
  let names: string[];
  try {
    names = readdirSync(SHM);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/^lanes-body-(\d+)-[0-9a-f]+$/.exec(name)?.[1]);
    if (!(pid > 0) || pid === process.pid || processAlive(pid)) continue;
    try {
      unlinkSync(`${SHM}/${name}`);
    } catch {
      // another user's, or gone already
    }
  }
}

/** A file's descriptor as positional reads and writes; none after `close` (the number may be reused). */
function fileIo(fd: number): FileIo & { close(): void } {
  let open = true;
  const shut = () => {
    throw new Error("the body file is closed");
  };
  return {
    read: (into, position) => (open ? readSync(fd, into, 0, into.byteLength, position) : shut()),
    write: (bytes, position) => (open ? writeSync(fd, bytes, 0, bytes.byteLength, position) : shut()),
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/** A child's body file, on the host's side. */
export interface HostBodyFile {
  io: FileIo;
  /** stdio entries after stdin, stdout and stderr: the child's descriptor 3 (none for a deno child). */
  stdio: number[];
  /** A deno child's: the file's path, which the sandbox binds at CHILD_BODY_PATH. */
  bindPath?: string;
  /** The child has started: the host closes its copy of the child's descriptor. */
  spawned(): void;
  /** The child has spoken (its sandbox is set up, the bind made): the file's name goes. */
  heard(): void;
  /** The child is gone. */
  close(): void;
}

/**
 * Whether a child gets a body file: not a sandboxed one with a write grant (the file size cap
 * above), nor a deno child outside the sandbox. Deno's node:fs cannot use a descriptor it did
 * not open, and it opens nothing under /dev or /proc (/dev/shm, /dev/fd, /proc/self/fd) without
 * --allow-all, so a deno child opens the file where the sandbox binds it, with a grant for that
 * path alone (README.md in this folder, Channel).
 */
export function bodyFileFor(o: Pick<ChildOptions, "runtime" | "sandbox" | "grants">): HostBodyFile | undefined {
  if (o.sandbox && o.grants.write.length > 0) return undefined;
  if (o.runtime === "deno" && !o.sandbox) return undefined;
  return openBodyFile(o.runtime === "deno");
}

/** A new body file, or undefined where there can be none (then bodies cross the pipe). */
export function openBodyFile(keepName = false): HostBodyFile | undefined {
  if (process.env.LANES_BODY_FILE === "off" || process.platform !== "linux" || !shmUsable()) return undefined;
  const path = `${SHM}/lanes-body-${process.pid}-${randomBytes(8).toString("hex")}`;
  const opened: number[] = [];
  let named = true;
  const unlink = () => {
    if (!named) return;
    named = false;
    try {
      unlinkSync(path);
    } catch {
      // removed already
    }
  };
  try {
    opened.push(openSync(path, "wx+", 0o600));
    const hostFd = opened[0]!;
    writeSync(hostFd, BODY_FILE_MAGIC, 0, BODY_FILE_MAGIC.byteLength, 0);
    const io = fileIo(hostFd);
    const close = () => {
      unlink();
      io.close();
    };
    if (keepName) return { io, stdio: [], bindPath: path, spawned() {}, heard: unlink, close };
    // the same file, a second open file description
    opened.push(openSync(`/proc/self/fd/${hostFd}`, "r+"));
    const childFd = opened[1]!;
    unlink();
    return { io, stdio: [childFd], spawned: () => closeSync(childFd), heard() {}, close };
  } catch {
    for (const fd of opened) closeSync(fd);
    unlink();
    return undefined;
  }
}

/** In a child: the body file its host gave it, if any (descriptor 3, or a deno child's CHILD_BODY_PATH). */
export function childBodyFile(): FileIo | undefined {
  let fd = CHILD_BODY_FD;
  if ((globalThis as { Deno?: unknown }).Deno) {
    try {
      fd = openSync(CHILD_BODY_PATH, "r+");
    } catch {
      return undefined; // not in a sandbox that binds one, or no grant for it
    }
  }
  const head = new Uint8Array(BODY_FILE_MAGIC.byteLength);
  try {
    if (readSync(fd, head, 0, head.byteLength, 0) !== head.byteLength) return undefined;
  } catch {
    return undefined; // no descriptor 3: a host without the file (or an older one)
  }
  if (!head.every((b, i) => b === BODY_FILE_MAGIC[i])) return undefined;
  return fileIo(fd);
}
