/**
 * The escape suite: a function written to get out (test/fixtures/fns/sandbox-escape.ts) runs in
 * the process lane, sandboxed, in node, bun and deno children of a `lanes start` host on the
 * runtime running this file. Every move from the bug report is refused while the function keeps
 * serving; the manifest's grants open exactly what they name. (That an isolate-lane function
 * sees none of the shell's variables is in host-env.test.ts.) Needs bubblewrap: the functions say
 * "sandbox": "required", so without it the host refuses to start and the suite fails.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startCli, type RunningCli } from "./helpers/cli.ts";
import { commOf, descendants, expectJson, guestPids, isAlive, spareFiles, waitFor } from "./helpers/chaos.ts";
import { adapter, makeFunctionsDir } from "./helpers/host.ts";
import { bundleShard } from "../runtime/compile.ts";
import { spawnProcess, type Spawned } from "./helpers/spawn.ts";

const CHILDREN = ["node", "bun", "deno"] as const;
const ESCAPES = [
  "signal-host",
  "read-environ",
  "read-manifest",
  "read-bundles",
  "write-outside",
  "write-dev",
  "spawn",
  "tcp-host",
  "http-host",
  "tcp-other",
  "fork-bomb",
  "root",
  "pid1-memory",
  "trace-pid1",
];
type Outcomes = Record<string, { outcome: "allowed" | "refused"; detail: string }>;

const marker = Math.random().toString(36).slice(2);
let cli: RunningCli;
let other: Server;
/**
 * A local service on an abstract unix socket of the host's network namespace, twice: Node pads
 * an abstract name to the whole sun_path (108 bytes) and Bun and Deno do not, so each runtime's
 * client finds only a listener of its kind (both are started, whatever runs this file).
 */
let abstract: Spawned[] = [];
const abstractName = `lanes-escape-${marker}`;
const LISTEN_ABSTRACT = `require("node:net").createServer((s) => s.on("error", () => {}).end("local service\\n")).listen("\\0${abstractName}", () => console.log("ready"))`;
let otherPort = 0;
let dir = "";
let leakedFd = -1;

const fn = (runtime: string, extra: Record<string, unknown> = {}) => ({ entry: "sandbox-escape.ts", lane: "process", runtime, sandbox: "required", ...extra });

test.before(async () => {
  other = createServer((s) => void s.on("error", () => {}).end("other\n"));
  await new Promise<void>((r) => other.listen(0, "127.0.0.1", r));
  otherPort = (other.address() as { port: number }).port;
  abstract = [spawnProcess("node", ["-e", LISTEN_ABSTRACT]), spawnProcess(fileURLToPath(new URL("../node_modules/bun/bin/bun.exe", import.meta.url)), ["-e", LISTEN_ABSTRACT])];
  await Promise.all(abstract.map((p) => new Promise<void>((r) => p.onOutput((t) => t.includes("ready") && r()))));
  // `iso`: a bundle that sandboxed children must not read
  const functions: Record<string, Record<string, unknown>> = { iso: { entry: "sandbox-escape.ts", lane: "isolate" } };
  for (const rt of CHILDREN) {
    functions[`escape-${rt}`] = fn(rt);
    functions[`grants-${rt}`] = fn(rt, { permissions: { net: true, read: ["data"], write: ["out"] } });
    functions[`netlist-${rt}`] = fn(rt, { permissions: { net: [`127.0.0.1:${otherPort}`] } });
  }
  // the control: the same probe without the sandbox, to show the probe sees an open door
  functions.control = { entry: "sandbox-escape.ts", lane: "process", runtime: "node", sandbox: "off" };
  dir = makeFunctionsDir(functions);
  mkdirSync(join(dir, "data"));
  mkdirSync(join(dir, "out"));
  writeFileSync(join(dir, "data", "granted.txt"), "granted-content\n");
  // an open folder left to the host, as a careless parent process would
  leakedFd = openSync(dir, "r");
  // at fd 9: a child's own fds 0-3 (stdio, IPC) and the sandbox's 4 would cover a lower one
  cli = await startCli(["start", dir, "--port", "0", "--log", "pretty"], { timeoutMs: 60_000, inherit: ["ignore", "ignore", "ignore", "ignore", "ignore", "ignore", leakedFd] });
});

test.after(() => {
  if (isAlive(cli.pid)) cli.kill("SIGKILL");
  closeSync(leakedFd);
  other.close();
  for (const p of abstract) p.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

async function probe(name: string, moves: string[], extra: Record<string, string> = {}): Promise<Outcomes> {
  const port = new URL(cli.url).port;
  const functions = (await expectJson<{ functions: { name: string; version: string }[] }>(fetch(`${cli.url}/_lanes/functions`))).functions;
  const isoVersion = functions.find((f) => f.name === "iso")!.version;
  const q = new URLSearchParams({
    moves: moves.join(","),
    hostPid: String(cli.hostPid),
    hostPort: port,
    otherPort: String(otherPort),
    dir,
    abstract: abstractName,
    bundle: join(bundleShard(adapter.sys, adapter.sys.cacheDir(), isoVersion), `iso-${isoVersion}.mjs`),
    cache: adapter.sys.cacheDir(),
    marker,
    ...extra,
  });
  return expectJson<Outcomes>(fetch(`${cli.url}/${name}?${q}`));
}

/** The command line of the sandbox (bwrap) a runtime process runs in, which names its bundle. */
function bundleOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    // a warm spare's bwrap binds a folder of its own: the bundle is linked into it at load
    return [readFileSync(`/proc/${parent}/cmdline`, "utf8"), ...spareFiles(pid)].join("\0");
  } catch {
    return "";
  }
}

function freePort(): Promise<number> {
  const s = createServer();
  return new Promise((resolve) =>
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    }),
  );
}

function expectAll(seen: Outcomes, outcome: "allowed" | "refused", moves: string[], who: string) {
  for (const m of moves) {
    assert.ok(seen[m], `${who}: no outcome for ${m}`);
    assert.is(seen[m]!.outcome, outcome, `${who}: ${m} was ${seen[m]!.outcome}, expected ${outcome}: ${seen[m]!.detail}`);
  }
}

for (const rt of CHILDREN) {
  test(`a sandboxed ${rt} child (${adapter.name} host) is refused every escape move, and still serves requests`, async () => {
    const seen = await probe(`escape-${rt}`, [...ESCAPES, "write-tmp"]);
    if (process.env.LANES_TEST_VERBOSE) console.log(rt, JSON.stringify(seen, null, 1));
    expectAll(seen, "refused", ESCAPES, `${rt} child`);
    // its private /tmp works, and is not the host's
    assert.is(seen["write-tmp"]!.outcome, "allowed", seen["write-tmp"]!.detail);
    assert.not.ok(existsSync(`/tmp/lanes-escape-${marker}`), "the child's /tmp is not the host's");
    for (const p of [join(dir, `escaped-${marker}`), join(adapter.sys.cacheDir(), `escaped-${marker}.mjs`), `/escaped-${marker}`, join(dir, `escaped-cwd-${marker}`)]) {
      assert.not.ok(existsSync(p), `${p} was written`);
    }
    // on failure, how the host ended: a clean clone once saw it gone here, beside other suites
    assert.ok(isAlive(cli.hostPid), `the host lives; its output ends:\n${cli.output().slice(-3000)}`);
    assert.equal(await probe(`escape-${rt}`, []), {}, "the same function serves a normal request");
  });
}

test("seen from the host, each sandboxed child has its own namespaces, none of the host's open descriptors, uid 65534 inside, no capabilities and at most 1024 open files", async () => {
  await Promise.all(CHILDREN.map((rt) => probe(`escape-${rt}`, [])));
  // the escape functions' runtimes: each under a bwrap that mounts that function's bundle (read
  // once: the event loop waits while /proc is read, and a walk per function once held it 9 s
  // beside other suites, past the host's keep-alive, so the next fetch reused a closed connection)
  const guests = guestPids(cli.hostPid).map((pid) => ({ pid, bundle: bundleOf(pid) }));
  const of = (rt: string) => guests.filter((g) => g.bundle.includes(`/escape-${rt}-`)).map((g) => g.pid);
  // on failure, what the host runs: one clean clone found no escape-bun beside a busy Chromium
  const seen = () =>
    guestPids(cli.hostPid)
      .map((pid) => `${pid} ${commOf(pid)}: ${bundleOf(pid).replaceAll("\0", " ")}`)
      .join("\n");
  for (const rt of CHILDREN) assert.ok(of(rt).length >= 1, `escape-${rt} has a runtime process; the host's guests:\n${seen()}`);
  const children = CHILDREN.flatMap(of);
  const ns = (pid: number, kind: string) => readlinkSync(`/proc/${pid}/ns/${kind}`);
  for (const kind of ["pid", "mnt", "net", "user", "ipc", "uts"]) {
    const mine = ns(cli.hostPid, kind);
    const theirs = children.map((pid) => ns(pid, kind));
    assert.ok(!theirs.includes(mine), `${kind}: a child shares the host's namespace`);
    assert.is(new Set(theirs).size, theirs.length, `${kind}: two children share a namespace`);
  }
  // the folder the host inherited open (fd 9) is there in the host, and in no child
  const openIn = (pid: number) =>
    readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return "";
      }
    });
  assert.ok(openIn(cli.hostPid).includes(dir), "the host holds the folder it inherited");
  for (const pid of children) assert.not.ok(openIn(pid).includes(dir), `a sandboxed child (${pid}) holds the host's open folder`);
  for (const pid of children) {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    assert.match(status, /CapEff:\s+0+\n/, `${pid} has capabilities`);
    assert.match(readFileSync(`/proc/${pid}/uid_map`, "utf8"), /^\s*65534\s+\d+\s+1\s*$/, "uid 65534 inside, one id mapped");
    assert.match(readFileSync(`/proc/${pid}/limits`, "utf8"), /Max open files\s+1024\s+1024/);
  }
});

test("a sandboxed child that listens on a port cannot be reached from the host", async () => {
  for (const rt of CHILDREN) {
    const listenPort = String(await freePort());
    const seen = await probe(`escape-${rt}`, ["listen"], { listenPort });
    const reached = await probe("control", ["tcp-port"], { port: listenPort });
    assert.is(reached["tcp-port"]!.outcome, "refused", `${rt}: reached its port (it said: ${seen.listen!.detail})`);
  }
});

for (const rt of CHILDREN) {
  test(`net: true, read and write grants open exactly what they name (${rt} child)`, async () => {
    const seen = await probe(`grants-${rt}`, ["read-granted", "write-granted", "tcp-host", "tcp-other"], {
      file: join(dir, "data", "granted.txt"),
      wfile: join(dir, "out", `written-${rt}.txt`),
    });
    expectAll(seen, "allowed", ["read-granted", "write-granted", "tcp-host", "tcp-other"], `${rt} child with grants`);
    assert.match(seen["read-granted"]!.detail, /granted-content/);
    assert.is(readFileSync(join(dir, "out", `written-${rt}.txt`), "utf8"), marker, "the write reached the granted folder");
    // and nothing more: the read grant is read-only, the manifest and the rest stay out of reach
    const more = await probe(`grants-${rt}`, ["write-granted", "read-manifest", "read-bundles", "signal-host", "spawn", "root"], {
      wfile: join(dir, "data", "not-writable.txt"),
    });
    expectAll(more, "refused", ["write-granted", "read-manifest", "read-bundles", "signal-host", "spawn", "root"], `${rt} child with grants`);
    assert.not.ok(existsSync(join(dir, "data", "not-writable.txt")));
  });
}

test("a host:port list is enforced exactly for deno children; node and bun get the whole network, and the log says so", async () => {
  const deno = await probe("netlist-deno", ["tcp-other", "tcp-host"]);
  assert.is(deno["tcp-other"]!.outcome, "allowed", deno["tcp-other"]!.detail);
  assert.is(deno["tcp-host"]!.outcome, "refused", deno["tcp-host"]!.detail);
  for (const rt of ["node", "bun"]) {
    const seen = await probe(`netlist-${rt}`, ["tcp-other", "tcp-host"]);
    expectAll(seen, "allowed", ["tcp-other", "tcp-host"], `${rt} child with a net list`);
    assert.match(
      cli.output(),
      new RegExp(`warn: functions\\.netlist-${rt}\\.permissions\\.net: ${rt} children cannot be limited to 127\\.0\\.0\\.1:${otherPort}; "netlist-${rt}" gets the whole network`),
    );
  }
  assert.not.match(cli.output(), /functions\.netlist-deno\.permissions\.net:/);
});

test("a child granted the network reaches no local service on an abstract unix socket of the host's (node, bun, deno)", async () => {
  for (const rt of CHILDREN) {
    const seen = await probe(`grants-${rt}`, ["unix-abstract", "tcp-other"]);
    // it has the network, but abstract unix sockets (containerd's shims, X11, D-Bus) are not it
    expectAll(seen, "allowed", ["tcp-other"], `${rt} child granted the network`);
    expectAll(seen, "refused", ["unix-abstract"], `${rt} child granted the network`);
  }
});

test("without the sandbox the same probe gets through (so it can tell)", async () => {
  const moves = ["read-manifest", "read-bundles", "tcp-host", "tcp-other", "unix-abstract"];
  expectAll(await probe("control", moves), "allowed", moves, "unsandboxed control");
});

test("the sandboxed children die with the host, even when it is killed", async () => {
  const procs = descendants(cli.hostPid);
  assert.ok(procs.length >= 3, `the host's descendants: ${procs.map((pid) => `${pid} ${commOf(pid)}`).join(", ")}`);
  process.kill(cli.hostPid, "SIGKILL");
  // named when it fails, not when the wait starts
  await waitFor(
    () => procs.every((pid) => !isAlive(pid)),
    () =>
      `left behind: ${procs
        .filter(isAlive)
        .map((pid) => `${pid} ${commOf(pid)}`)
        .join(", ")}`,
    5000,
  );
  assert.equal(await cli.exited, { code: null, signal: "SIGKILL" });
});

test.run();
