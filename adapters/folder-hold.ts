/**
 * One host per deploy-store folder (runtime/deploy/folder-store.ts). node:fs has no flock on
 * Node 20, Bun or Deno (only Deno's own FsFile.lock), so a hold is a file in the folder itself,
 * `.host.<n>.lock`, naming the process that holds it: every path to the folder (a symlink, a
 * trailing slash) finds the same files. The highest `n` is the hold that counts.
 *
 * - A file is made whole in a temp file, then given its name with link(2), which fails when the
 *   name exists: of hosts starting at the same moment, one makes `.host.<n+1>.lock`, and a reader
 *   never sees half a record.
 * - A hold whose process is gone (killed with SIGKILL, the machine lost power) is taken over by
 *   making the next `n`, never by removing it: two hosts that both found it stale race for the
 *   same new name, and one wins. A slow one whose name was freed meanwhile sees a higher one
 *   after its link and gives up. The winner removes the lower ones.
 * - A stopping host marks its file released rather than removing it, so numbers never go back
 *   and a late link of an old number cannot win.
 * - "Gone" is judged from /proc (Linux): the pid's process is missing or a zombie, or its start
 *   time is not the one recorded (the pid was reused), or the boot id changed (a restart). A
 *   hold written on another machine (another hostname: a shared file system, another container)
 *   cannot be judged from here and counts as held. Pids are read in this process's pid
 *   namespace: a container restarted under the same hostname finds its old pid gone or reused,
 *   as it should. Without /proc, a pid that answers kill(0) holds (a reused pid then too).
 * - A store opened again in the same process (a test, a tool beside its host) shares the hold.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { link, readdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import * as path from "node:path";
import { processAlive } from "./process-alive.ts";

/** Who holds a folder, as its hold file says. */
export interface Holder {
  pid: number;
  /** The holder's machine (its hostname). */
  host: string;
  /** When it took the hold, ISO 8601. */
  since: string;
}

export type FolderHold =
  /** `tookOver`: the hold was left by a host that is gone (`holder`: undefined when its file could not be read), and why it counts as gone. */
  | { held: true; release(): Promise<void>; tookOver?: { holder: Holder | undefined; why: string } }
  /** `elsewhere`: the holder is on another machine, where lanes cannot see whether it still runs; `file` is its hold. */
  | { held: false; holder: Holder; elsewhere: boolean; file: string };

/** Sys's part (types.ts): one host per deploy-store folder. */
export interface FolderHolding {
  /** Hold `dir` (a folder that exists) for this process, taking over a hold whose host is gone; or learn who holds it. */
  holdFolder(dir: string): Promise<FolderHold>;
}

interface HoldRecord extends Holder {
  /** /proc/sys/kernel/random/boot_id and the process's start time in /proc/PID/stat; null without /proc. */
  boot: string | null;
  start: string | null;
  id: string;
  released?: string;
}

const NAME = /^\.host\.(\d+)\.lock$/;
const TEMP = /^\.host\.\d+\.lock\.(\d+)\.[0-9a-f]{8}\.tmp$/;
const fileOf = (dir: string, n: number) => path.join(dir, `.host.${n}.lock`);
/** Holds of this process, by id, and how many opens share each. */
const mine = new Map<string, number>();

function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // after "pid (comm) ": field 3, state, onward; field 22 is the start time (proc(5))
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: f[0]!, start: f[19]! };
  } catch {
    return undefined;
  }
}

function bootId(): string | null {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return null;
  }
}

let self: Omit<HoldRecord, "since" | "id"> | undefined;
const me = () => (self ??= { pid: process.pid, host: hostname(), boot: bootId(), start: procStat(process.pid)?.start ?? null });

/** Why the holder of `r` is gone, or undefined while it may still run. */
function gone(r: HoldRecord): string | undefined {
  const m = me();
  if (r.host !== m.host) return undefined;
  if (r.boot && m.boot && r.boot !== m.boot) return "the machine has restarted since";
  if (m.start === null) return processAlive(r.pid) ? undefined : "its process is gone";
  const now = procStat(r.pid);
  if (!now || now.state === "Z" || now.state === "X") return "its process is gone";
  return now.start === r.start ? undefined : `pid ${r.pid} is another process now`;
}

/** The numbers of the hold files there now. */
async function numbers(dir: string): Promise<number[]> {
  return (await readdir(dir)).flatMap((name) => {
    const m = NAME.exec(name);
    return m ? [Number(m[1])] : [];
  });
}

const highest = async (dir: string) => Math.max(0, ...(await numbers(dir)));

/** The record in hold file `n`; undefined when it is gone; "damaged" when it cannot be read as one. */
async function readHold(dir: string, n: number): Promise<HoldRecord | "damaged" | undefined> {
  try {
    const r = JSON.parse(await readFile(fileOf(dir, n), "utf8")) as HoldRecord;
    return typeof r.pid === "number" && typeof r.id === "string" ? r : "damaged";
  } catch (e) {
    return (e as { code?: string }).code === "ENOENT" ? undefined : "damaged";
  }
}

/** Make hold file `n` holding `r`, whole or not at all; false when it exists already. */
async function make(dir: string, n: number, r: HoldRecord): Promise<boolean> {
  const tmp = path.join(dir, `.host.${n}.lock.${process.pid}.${r.id.slice(0, 8)}.tmp`);
  await writeFile(tmp, JSON.stringify(r), { flag: "wx", mode: 0o644 });
  try {
    await link(tmp, fileOf(dir, n));
    return true;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "EEXIST") return false;
    throw new Error(`cannot make its hold file ${fileOf(dir, n)} (${code}): the folder must be on a file system with hard links`);
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** Temp files of holds whose maker died before removing them (the store's sweep leaves `.host.*` alone: a host starting beside this one may be using its own). */
async function removeLeftTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const pid = Number(TEMP.exec(name)?.[1]);
    if (pid && pid !== process.pid && !processAlive(pid)) await unlink(path.join(dir, name)).catch(() => {});
  }
}

function handle(dir: string, n: number, r: HoldRecord): () => Promise<void> {
  mine.set(r.id, (mine.get(r.id) ?? 0) + 1);
  let done = false;
  return async () => {
    if (done) return;
    done = true;
    const left = mine.get(r.id)! - 1;
    if (left > 0) return void mine.set(r.id, left);
    mine.delete(r.id);
    const now = await readHold(dir, n);
    if (typeof now !== "object" || now.id !== r.id) return; // taken over: not ours to touch
    const tmp = `${fileOf(dir, n)}.${process.pid}.${r.id.slice(0, 8)}.tmp`;
    await writeFile(tmp, JSON.stringify({ ...r, released: new Date().toISOString() }));
    await rename(tmp, fileOf(dir, n));
  };
}

/** FolderHolding.holdFolder. */
export async function holdFolder(dir: string): Promise<FolderHold> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const n = await highest(dir);
    const r = n > 0 ? await readHold(dir, n) : undefined;
    if (n > 0 && r === undefined) continue; // its maker gave up meanwhile: look again
    let tookOver: { holder: Holder | undefined; why: string } | undefined;
    // link(2) never shows half a record: one that cannot be read was cut short by a crash
    if (r === "damaged") tookOver = { holder: undefined, why: `its hold file ${fileOf(dir, n)} cannot be read` };
    else if (r && !r.released) {
      const m = me();
      if (r.pid === m.pid && r.start === m.start && r.boot === m.boot && r.host === m.host) return { held: true, release: handle(dir, n, r) };
      const why = gone(r);
      if (!why) return { held: false, holder: { pid: r.pid, host: r.host, since: r.since }, elsewhere: r.host !== m.host, file: fileOf(dir, n) };
      tookOver = { holder: { pid: r.pid, host: r.host, since: r.since }, why };
    }
    const mineNow: HoldRecord = { ...me(), since: new Date().toISOString(), id: randomUUID() };
    if (!(await make(dir, n + 1, mineNow))) continue; // another host made it first: look at theirs
    if ((await highest(dir)) > n + 1) {
      // a host that looked earlier made a higher one: it holds, this one gives up its number
      await unlink(fileOf(dir, n + 1)).catch(() => {});
      continue;
    }
    for (const old of await numbers(dir)) if (old <= n) await unlink(fileOf(dir, old)).catch(() => {});
    await removeLeftTemps(dir);
    return { held: true, release: handle(dir, n + 1, mineNow), ...(tookOver ? { tookOver } : {}) };
  }
  throw new Error("other hosts kept taking its hold: start one host at a time");
}
