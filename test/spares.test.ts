/**
 * Warm spares of the process lane: children started ahead with no function; a cold function's
 * first request takes one (it gets the bundle and the env then) and a new spare replaces it. A
 * function whose sandbox a spare does not have starts a child of its own. Host on Node, Bun
 * and Deno, children on the host's runtime.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expectJson, guestPids, servingPid, sleep, spareFolderOf, waitFor } from "./helpers/chaos.ts";
import { compileGuests } from "../runtime/host/host.ts";
import { KEPT_WARM } from "../runtime/host/load-check.ts";
import { SparePool } from "../runtime/lanes/spares.ts";
import { createLogger } from "../runtime/log.ts";
import { adapter, startTestHost, type TestHost } from "./helpers/host.ts";

const test = suite<{ h: TestHost }>(`warm spares (${adapter.name} host)`);

test.before(async (ctx) => {
  // idleMs 1000: the instances the load check left warm stop within a second or two, and each
  // test begins with its functions cold
  const instances = { idleMs: 1000 };
  ctx.h = await startTestHost({
    env: { entry: "env.ts", lane: "process", env: { GREETING: "hi" }, instances },
    net: { entry: "chaos-fault.ts", lane: "process", permissions: { net: true }, instances },
    // unsandboxed node children: their spares have folders no sandbox ends with them
    deep: { entry: "too-deep-folders.ts", lane: "process", runtime: "node", sandbox: "off", instances },
  });
  await ctx.h.host.checked;
  await waitFor(() => ctx.h.host.functions.every((f) => f.pool!.instances.length === 0), "the instances the load check left warm stop after idleMs", 15_000);
});
test.after(async ({ h }) => {
  await h.stop();
  assert.equal(guestPids(), [], "no spare outlives the host");
  // the host's own folders are named after its pid (this process: the test host runs in it)
  assert.equal(
    sparesFolders().filter((n) => n.startsWith(`${adapter.name}-${process.pid}-`)),
    [],
    "a host that stops removes its spares' folders",
  );
});

const sparesRoot = () => join(adapter.sys.cacheDir(), "spares");
const sparesFolders = () => (existsSync(sparesRoot()) ? readdirSync(sparesRoot()) : []);

/** Children that are spares now (no function's instance). */
const ready = (h: TestHost) => h.host.spares.describe().reduce((n, s) => n + s.ready, 0);
const instancePids = (h: TestHost) => h.host.functions.flatMap((f) => f.pool!.instances.map((i) => i.pid()));
/** Children that are spares now: no function's instance, and a spare's folder. */
const sparePids = (h: TestHost) => guestPids().filter((p) => !instancePids(h).includes(p) && spareFolderOf(p) !== undefined);

test("a cold process-lane function is served by a warm spare, which gets its env at load and is replaced at once", async ({ h }) => {
  await waitFor(() => ready(h) > 0 && h.host.functions.every((f) => f.pool!.instances.length === 0), "a spare is ready, no instance runs", 15_000);
  const before = sparePids(h);
  assert.ok(before.length > 0, "spares run");
  const got = await expectJson<{ env: Record<string, string>; processEnv: Record<string, string>; denoEnv: Record<string, string> | null; bunEnv: Record<string, string> | null }>(
    h.fetch("/env"),
  );
  assert.equal(got.env, { GREETING: "hi" });
  assert.equal(got.processEnv, { GREETING: "hi" }, "process.env is the function's env, nothing the spare started with");
  if (got.denoEnv) assert.equal(got.denoEnv, { GREETING: "hi" }, "Deno.env too");
  if (got.bunEnv) assert.equal(got.bunEnv, { GREETING: "hi" }, "Bun.env too");
  const pid = servingPid(h, "env");
  assert.ok(before.includes(pid), `served by the spare ${pid} (spares were ${before.join(", ")})`);
  await waitFor(() => ready(h) > 0 && sparePids(h).some((p) => !before.includes(p)), "a new spare replaces it", 15_000);
});

test("a function whose sandbox a spare does not have (network access) starts a child of its own", async ({ h }) => {
  await waitFor(() => ready(h) > 0, "a spare is ready", 15_000);
  const spares = sparePids(h);
  await expectJson(h.fetch("/net"));
  assert.not.ok(spares.includes(servingPid(h, "net")), "not a spare");
  assert.equal(sparePids(h).filter((p) => spares.includes(p)).length, spares.length, "the spares are still there");
});

test("a spare's folder that cannot be removed (a function left folders deeper than PATH_MAX in it) is logged, and the host keeps serving", async ({ h }) => {
  const unsandboxedNode = () => h.host.spares.describe().find((s) => s.runtime === "node" && !s.sandboxed);
  await waitFor(() => (unsandboxedNode()?.ready ?? 0) > 0, "an unsandboxed node spare is ready", 15_000);
  const { folder } = await expectJson<{ folder: string }>(h.fetch("/deep"));
  try {
    assert.match(folder, /\/spares\/[^/]+\/?$/, "the function ran in a warm spare's folder");
    // Its instance ends and the host removes the folder. Node's rm works by full paths and fails
    // (ENAMETOOLONG): that failure was once an unhandled rejection that ended the host. Bun's and
    // Deno's rm get through (measured, Bun 1.4.5 and Deno 2.9.6; the fixture says why its chain
    // has few levels).
    const said = () => h.logs.some((l) => l.includes("spare's folder") && l.includes("could not be removed"));
    const log = () => `the host's log ends:\n${h.logs.slice(-10).join("\n")}`;
    await waitFor(
      () => said() || !existsSync(folder),
      () => `the folder is neither removed nor reported; ${log()}`,
      30_000,
    );
    if (adapter.name === "node") assert.ok(said(), `the host names the folder it could not remove; ${log()}`);
    else assert.not.ok(existsSync(folder), `the folder is removed; ${log()}`);
    assert.is((await h.fetch("/env")).status, 200, "another function is served");
    await waitFor(() => (unsandboxedNode()?.ready ?? 0) > 0, "a new spare replaces the one that ended", 15_000);
  } finally {
    // coreutils' rm descends relative to each folder, whatever the depth
    spawnSync("rm", ["-rf", folder]);
  }
});

test("a host that starts removes the spare folders of hosts that are gone, and keeps those of hosts that run", async () => {
  const gone = spawnSync("true").pid!; // exited: its pid names a host that is gone
  const day = 24 * 3600_000;
  const folders = {
    gone: `node-${gone}-${Date.now().toString(36)}-1`,
    running: `deno-${process.ppid}-${Date.now().toString(36)}-1`,
    oldNamedLongAgo: `bun-${(Date.now() - 2 * day).toString(36)}-7`,
    oldNamedRecently: `bun-${Date.now().toString(36)}-8`,
    notASpare: "notes",
  };
  for (const name of Object.values(folders)) {
    mkdirSync(join(sparesRoot(), name), { recursive: true });
    writeFileSync(join(sparesRoot(), name, "hello-0123456789ab.mjs"), "export default {};\n");
  }
  const other = await startTestHost({ env: { entry: "env.ts", lane: "process" } });
  try {
    await waitFor(() => !sparesFolders().includes(folders.gone) && !sparesFolders().includes(folders.oldNamedLongAgo), "the folders of hosts that are gone are removed", 10_000);
    for (const kept of [folders.running, folders.oldNamedRecently, folders.notASpare]) assert.ok(sparesFolders().includes(kept), `${kept} is kept`);
  } finally {
    await other.stop();
    for (const name of Object.values(folders)) rmSync(join(sparesRoot(), name), { recursive: true, force: true });
  }
});

test("a host just started keeps one spare and its first eight functions warm, though its load check loaded them before a spare was ready and while replacements started", async () => {
  const names = ["p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"];
  const other = await startTestHost(Object.fromEntries(names.map((name) => [name, { entry: "env.ts", lane: "process" }])));
  try {
    // the load check loaded each function once: the first in a child of its own, the others in
    // the spare or a child of their own while the spare taken before them was being replaced
    await other.host.checked;
    type Metrics = { spares: { ready: number; starting: number }[]; functions: { name: string; handled: number; instances: { id: number }[] }[] };
    const metrics = () => expectJson<Metrics>(other.fetch("/_lanes/metrics", { headers: { accept: "application/json" } }));
    const warm = (m: Metrics) => m.functions.filter((f) => f.instances.length > 0).map((f) => f.name);
    const before = await metrics();
    assert.is(warm(before).length, KEPT_WARM, `functions left warm: ${warm(before).join(", ")}`);
    // a warm function's first request is served by the instance the check started: no spare taken
    const name = warm(before)[0]!;
    const instances = (m: Metrics) => m.functions.find((f) => f.name === name)!;
    assert.is((await other.fetch(`/${name}`)).status, 200);
    await sleep(1500); // the spares' tick (every second) would have started a second one by now
    const after = await metrics();
    assert.equal(
      [instances(after).handled, instances(after).instances.map((i) => i.id)],
      [1, instances(before).instances.map((i) => i.id)],
      `${name}: its request served by the instance the load check started`,
    );
    assert.equal(
      after.spares.map((s) => s.ready + s.starting),
      [1],
      `spares on /_lanes/metrics: ${JSON.stringify(after.spares)}`,
    );
    assert.equal(warm(after), warm(before), "the others stay cold");
  } finally {
    await other.stop();
  }
});

test("a function that finds no spare ready keeps more of them, but not while the first spare is still starting", async ({ h }) => {
  const guests = await compileGuests(adapter);
  const spec = h.host.functions.find((f) => f.spec.name === "env")!.spec;
  const pool = new SparePool({ adapter, log: createLogger(() => {}), childFile: guests.child });
  const kept = () => pool.describe()[0]!.ready + pool.describe()[0]!.starting;
  let taken: ReturnType<SparePool["take"]>;
  try {
    pool.register(spec);
    // as a host's start-up load check does: its function's child starts beside the first spare
    assert.is(pool.take(spec), undefined, "no spare is ready yet");
    await waitFor(() => pool.describe()[0]!.ready > 0, "the first spare is ready", 15_000);
    await sleep(1500); // the pool's tick (every second) would start a second one by now
    assert.is(kept(), 1, "a miss before any spare was ready does not keep more");

    taken = pool.take(spec);
    assert.ok(taken, "the ready spare is taken");
    // its replacement is starting: a second cold function now finds none ready, which is demand
    assert.is(pool.take(spec), undefined, "none is ready while the replacement starts");
    await waitFor(() => pool.describe()[0]!.ready === 2, "two spares are kept after a miss once they were ready", 15_000);
  } finally {
    await taken?.kill();
    await pool.stop();
  }
});

test("two hosts in one process give their spares folders of their own", async ({ h }) => {
  const guests = await compileGuests(adapter);
  const spec = h.host.functions.find((f) => f.spec.name === "env")!.spec;
  const mine = () => new Set(sparesFolders().filter((n) => n.startsWith(`${adapter.name}-${process.pid}-`)));
  const before = mine();
  // started in the same turn: their first spares' folders are made in the same millisecond
  const pools = [0, 1].map(() => new SparePool({ adapter, log: createLogger(() => {}), childFile: guests.child }));
  for (const pool of pools) pool.register(spec);
  try {
    await waitFor(() => pools.every((p) => p.describe()[0]!.ready > 0), "both pools have a ready spare", 15_000);
    const spares = pools.reduce((n, p) => n + p.count, 0);
    const folders = [...mine()].filter((n) => !before.has(n));
    assert.is(folders.length, spares, `one folder per spare: ${folders.join(", ")}`);
  } finally {
    await Promise.all(pools.map((p) => p.stop()));
  }
});

test("spares stopped while one is starting spawn no child after the stop", async ({ h }) => {
  const guests = await compileGuests(adapter);
  const before = new Set(guestPids());
  const pool = new SparePool({ adapter, log: createLogger(() => {}), childFile: guests.child });
  pool.register(h.host.functions.find((f) => f.spec.name === "env")!.spec);
  await new Promise((r) => setTimeout(r, 0)); // register's fill has run: a spare's folder is being made
  assert.equal(
    pool.describe().map((s) => s.starting),
    [1],
    "a spare is starting",
  );
  await pool.stop();
  await sleep(700); // a child spawned after the stop would run by now
  assert.equal(
    guestPids().filter((p) => !before.has(p)),
    [],
    "no spare was started after the stop",
  );
});

test.run();
