/**
 * What the chaos suites check after each fault: the status and error code a client got, that no
 * stack trace reached it, and which processes are still alive (read from /proc, Linux).
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import * as assert from "uvu/assert";
import type { Pool } from "../../runtime/pool/pool.ts";
import { withCause } from "./fetch-cause.ts";
import type { TestHost } from "./host.ts";

/** A stack frame or a source position: what must never reach a client outside `lanes dev`. */
const STACKISH = /\n\s+at |\bat .*\.(?:ts|mjs|js):\d+|file:\/\/|\.(?:ts|mjs):\d+:\d+/;

export function assertNoStack(text: string, what = "response"): void {
  assert.not.match(text, STACKISH, `a stack trace reached the client in the ${what}: ${text}`);
}

export interface ErrorBody {
  code: string;
  message: string;
  requestId: string;
}

/** Asserts a runtime-made error response (status, code, JSON shape, no stack) and returns its error. */
export async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  const text = await res.text();
  assert.is(res.status, status, `expected ${status} ${code}, got ${res.status}: ${text}`);
  assertNoStack(text);
  const body = JSON.parse(text) as { error: ErrorBody };
  assert.is(body.error.code, code, text);
  assert.is(body.error.requestId, res.headers.get("x-request-id"));
  return body.error;
}

export async function expectJson<T = Record<string, unknown>>(res: Response | Promise<Response>): Promise<T> {
  // suites that fetch from a CLI's host pass fetch()'s promise: a failure says why here too
  const r = await Promise.resolve(res).catch((e: unknown) => Promise.reject(withCause(e, "the request expectJson was given")));
  const text = await r.text();
  assert.is(r.status, 200, text);
  return JSON.parse(text) as T;
}

/** Resolves true if a new TCP connection to `url` is accepted. */
export function accepts(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(u.port), u.hostname);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `check` until it is true; fails the test with `what` after `timeoutMs`. A function for
 * `what` is called then, so the message can say what was seen at the end, not at the start.
 * `everyMs`: the pause between looks; a check that asks the host (a request for /_lanes/metrics)
 * costs the host more than the 10 ms a look at its state in this process does.
 */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string | (() => string), timeoutMs = 5000, everyMs = 10): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) assert.unreachable(`${typeof what === "function" ? what() : what}: not true after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** Alive and not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** VmRSS of a process in bytes. */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** PIDs whose parent is `ppid` (default: this process), from /proc. */
export function childPids(ppid: number = process.pid): number[] {
  return processTree().get(ppid) ?? [];
}

/**
 * Every live process's children, from one read of /proc. One read serves a whole walk of the
 * tree: a read per process walked (a host's dozen sandboxed children, each a few deep, over the
 * machine's processes) kept a suite's event loop busy for 6 s beside other suites, and the
 * keep-alive connection its next fetch reused had been closed by the host meanwhile.
 */
function processTree(): Map<number, number[]> {
  const tree = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z") continue;
      const ppid = Number(fields[1]);
      tree.set(ppid, [...(tree.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  return tree;
}

/**
 * Process-lane instances started by `ppid`: the runtime processes that run lanes' compiled child
 * guest. A sandboxed instance is a bwrap child of the host; its runtime is a descendant.
 */
export function guestPids(ppid: number = process.pid): number[] {
  const tree = processTree();
  return (tree.get(ppid) ?? []).flatMap((pid) => {
    if (!runsGuest(pid)) return [];
    if (commOf(pid) !== "bwrap") return [pid];
    return descendants(pid, tree).filter((d) => commOf(d) !== "bwrap" && runsGuest(d));
  });
}

/**
 * A warm spare's folder (runtime/lanes/spares.ts): a process-lane child started ahead binds an
 * empty folder of its own under the cache's spares/ (sandboxed: in its bwrap's command line) or
 * works in it (unsandboxed); its function's bundle is linked in there when a function takes it.
 */
export function spareFolderOf(pid: number): string | undefined {
  const read = (f: () => string) => {
    try {
      return f();
    } catch {
      return "";
    }
  };
  const stat = read(() => readFileSync(`/proc/${pid}/stat`, "utf8"));
  const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  const args = read(() => readFileSync(`/proc/${parent}/cmdline`, "utf8")).split("\0");
  return [...args, read(() => readlinkSync(`/proc/${pid}/cwd`))].find((a) => /\/spares\/[^/]+$/.test(a));
}

/** The files in a process's spare folder (its function's bundle, once one took it); [] for any other process. */
export function spareFiles(pid: number): string[] {
  const folder = spareFolderOf(pid);
  try {
    return folder ? readdirSync(folder).map((n) => join(folder, n)) : [];
  } catch {
    return [];
  }
}

/** A warm spare no function has taken yet: not any function's instance. */
export function isIdleSpare(pid: number): boolean {
  return spareFolderOf(pid) !== undefined && spareFiles(pid).length === 0;
}

/**
 * It runs the child guest, or is bwrap starting one. Not a Node host's build and trial run of
 * the guest's startup snapshot (adapters/node-snapshot.ts): their command lines name it too (a
 * trial's is a restored child's), but a guest's stdin is its channel, theirs /dev/null. Counted,
 * they came and went as children that outlived their host or as spares.
 */
function runsGuest(pid: number): boolean {
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("guest-child")) return false;
    return readlinkSync(`/proc/${pid}/fd/0`) !== "/dev/null";
  } catch {
    return false;
  }
}

export function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/**
 * The host's id of the process running the one live instance of function `name` (process
 * lane). A function reports its own `process.pid`, which in a sandbox is its id in its own PID
 * namespace, the same in every instance.
 */
export function servingPid(h: TestHost, name: string): number {
  const live = poolOf(h, name).instances.filter((i) => i.state !== "dead" && i.state !== "retiring");
  assert.is(live.length, 1, `${name}: one live instance`);
  const pid = live[0]!.pid();
  assert.ok(pid, `${name}: its process id is known`);
  return pid!;
}

/** Every live descendant of `pid`. */
export function descendants(pid: number, tree: Map<number, number[]> = processTree()): number[] {
  const out: number[] = [];
  for (const c of tree.get(pid) ?? []) out.push(c, ...descendants(c, tree));
  return out;
}

/** A measured number for the report: printed as `measure: ...` lines. */
export function measure(label: string, value: string): void {
  console.log(`measure: ${label}: ${value}`);
}

/**
 * What the chaos-fault.ts fixture answers: which instance and lane served, and its process id
 * as it sees it (in a sandbox, its id inside its own PID namespace: use servingPid for the host's).
 */
export type Who = { instance: string; pid: number; lane: string };

/** The pool of function `name` in a test host. */
export function poolOf(h: TestHost, name: string): Pool {
  return h.host.functions.find((f) => f.spec.name === name)!.pool!;
}

/** The bystander function answers normally, from the expected lane, while another is at fault. */
export async function assertBystanderServes(h: TestHost, lane: string): Promise<void> {
  const who = await expectJson<Who>(h.fetch("/bystander"));
  assert.is(who.lane, lane);
}
