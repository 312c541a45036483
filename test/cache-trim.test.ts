/**
 * The private cache does not grow for ever (runtime/cache-trim.ts): bundles, build records,
 * Deno children's homes and Node children's startup snapshots unused for a week are removed by a
 * host when it starts and daily while it runs, at most once a day; what a host uses is noted, and a home or a snapshot
 * removed under a running host is made again. Sandboxed Deno children share one home the host
 * warmed, read-only. Host on Node, Bun and Deno.
 */
import { chmodSync, existsSync, lutimesSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { noteUse, trimCache, UNUSED_MS } from "../runtime/cache-trim.ts";
import { compile } from "../runtime/compile.ts";
import { expectError, servingPid, waitFor } from "./helpers/chaos.ts";
import { hostEnvironment } from "../adapters/env.ts";
import { ensurePrivateDirSync } from "../adapters/private-dir.ts";
import { startCli } from "./helpers/cli.ts";
import { adapter, makeFunctionsDir, startTestHost } from "./helpers/host.ts";

const DAY = 24 * 3_600_000;
const scratch = mkdtempSync(join(tmpdir(), "lanes-trim-test-"));
const original = process.env.LANES_CACHE_DIR;
const { sys } = adapter;

/** A cache folder of the test's own, `scratch/name` (LANES_CACHE_DIR); the run's comes back after the test. */
function ownCache(name: string): string {
  const dir = join(scratch, name);
  process.env.LANES_CACHE_DIR = dir;
  return dir;
}
test.after.each(() => {
  if (original === undefined) delete process.env.LANES_CACHE_DIR;
  else process.env.LANES_CACHE_DIR = original;
});
test.after(() => rmSync(scratch, { recursive: true, force: true }));

/** Make `path` (a file, or a folder when it ends in /) last modified `ms` ago. */
function made(path: string, ms: number, text = "x"): string {
  const folder = path.endsWith("/");
  const p = folder ? path.slice(0, -1) : path;
  if (folder) {
    mkdirSync(p, { recursive: true });
    writeFileSync(join(p, "inside"), text);
  } else {
    mkdirSync(join(p, ".."), { recursive: true });
    writeFileSync(p, text);
  }
  const at = new Date(Date.now() - ms);
  utimesSync(p, at, at);
  return p;
}

const names = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

test("a trim removes the bundles, build records, homes and snapshots unused for a week, a snapshot build's day-old leftover, and nothing else", async () => {
  const dir = join(scratch, "cache-1");
  const old = UNUSED_MS + DAY;
  // bundles in their folders (by the first two digits of their hash), and one of lanes before those
  made(join(dir, "bundles", "01", "hello-0123456789ab.mjs"), old);
  made(join(dir, "bundles", "ba", "hello-ba9876543210.mjs"), DAY); // used yesterday
  made(join(dir, "bundles", "notes", "hello-0123456789ab.mjs"), old); // not a folder lanes makes
  made(join(dir, "hello-0123456789ab.mjs"), old);
  made(join(dir, "hello-ba9876543210.mjs"), DAY); // used yesterday
  made(join(dir, "pack-0123456789ab.cjs"), old);
  made(join(dir, "builds", `${"a".repeat(24)}.json`), old);
  made(join(dir, "builds", `${"b".repeat(24)}.json`), 60_000);
  made(join(dir, "homes", `${"c".repeat(16)}/`), old);
  made(join(dir, "homes", `spare-${"d".repeat(16)}/`), old);
  made(join(dir, "homes", `${"e".repeat(16)}/`), 3 * DAY);
  made(join(dir, "guest-child-snapshot-0123456789abcdef-128.blob"), old);
  made(join(dir, "guest-child-snapshot-0123456789abcdef-97.blob"), 3 * DAY);
  // what a host that died while building a snapshot left, and one being built now
  made(join(dir, "guest-child-snapshot-0123456789abcdef-64.blob.4242.tmp"), DAY + 60_000);
  made(join(dir, "guest-child-snapshot-0123456789abcdef-64.blob.4343.tmp"), 60_000);
  // not lanes' own names, however old: a file someone put there, the spares' folders
  made(join(dir, "notes.txt"), old);
  made(join(dir, "spares", "node-1-abc-1/"), old);
  // a link under a home's name is removed as a link: what it points to is not touched
  const outside = made(join(scratch, "outside/"), 0, "keep me");
  symlinkSync(outside, join(dir, "homes", "f".repeat(16)));
  const at = new Date(Date.now() - old);
  lutimesSync(join(dir, "homes", "f".repeat(16)), at, at);

  assert.is(await trimCache(sys, dir), 9);
  assert.equal(names(join(dir, "bundles", "01")), []);
  assert.equal(names(join(dir, "bundles", "ba")), ["hello-ba9876543210.mjs"]);
  assert.equal(names(join(dir, "bundles", "notes")), ["hello-0123456789ab.mjs"]);
  assert.equal(names(dir), [
    "builds",
    "bundles",
    "guest-child-snapshot-0123456789abcdef-64.blob.4343.tmp",
    "guest-child-snapshot-0123456789abcdef-97.blob",
    "hello-ba9876543210.mjs",
    "homes",
    "notes.txt",
    "spares",
    "trimmed",
  ]);
  assert.equal(names(join(dir, "builds")), [`${"b".repeat(24)}.json`]);
  assert.equal(names(join(dir, "homes")), ["e".repeat(16)]);
  assert.equal(names(join(dir, "spares")), ["node-1-abc-1"]);
  assert.equal(names(outside), ["inside"], "the link's target is untouched");
});

test("a cache is trimmed at most once a day: the next host within the day leaves it be", async () => {
  const dir = join(scratch, "cache-2");
  made(join(dir, "a-0123456789ab.mjs"), UNUSED_MS + DAY);
  assert.is(await trimCache(sys, dir), 1);
  made(join(dir, "b-0123456789ab.mjs"), UNUSED_MS + DAY);
  assert.is(await trimCache(sys, dir), undefined, "not a second time the same day");
  assert.ok(existsSync(join(dir, "b-0123456789ab.mjs")));
  const yesterday = new Date(Date.now() - DAY - 60_000);
  utimesSync(join(dir, "trimmed"), yesterday, yesterday);
  assert.is(await trimCache(sys, dir), 1, "a day later it trims again");
});

test("a use is noted on an entry last noted over an hour ago, not more often", async () => {
  const dir = join(scratch, "cache-3");
  const stale = made(join(dir, "a-0123456789ab.mjs"), 2 * 3_600_000);
  const fresh = made(join(dir, "b-0123456789ab.mjs"), 10 * 60_000);
  const freshAt = statSync(fresh).mtimeMs;
  await noteUse(sys, stale);
  await noteUse(sys, fresh);
  await noteUse(sys, join(dir, "gone.mjs")); // nothing, no error
  assert.ok(Date.now() - statSync(stale).mtimeMs < 60_000, "the stale one is noted now");
  assert.is(statSync(fresh).mtimeMs, freshAt, "the recent one is left as it was");
});

test("a host that starts trims its cache", async () => {
  const dir = ownCache("cache-4");
  made(join(dir, "gone-0123456789ab.mjs"), UNUSED_MS + DAY);
  made(join(dir, "homes", `${"c".repeat(16)}/`), UNUSED_MS + DAY);
  const h = await startTestHost({ echo: { entry: "echo.ts" } });
  try {
    // the trim logs once it is done (in the background: the host serves meanwhile)
    await waitFor(
      () => h.logs.some((l) => /removed 2 entries unused for a week/.test(l)),
      () => `the host logs the trim:\n${h.logs.join("")}`,
      10_000,
    );
    assert.not.ok(existsSync(join(dir, "gone-0123456789ab.mjs")), "the old bundle is gone");
    assert.equal(names(join(dir, "homes")), [], "the old home is gone");
    assert.is(await (await h.fetch("/echo", { method: "POST", body: "still serves" })).text(), "still serves");
  } finally {
    await h.stop();
  }
});

test("a host that keeps running trims its cache again a day later: bundles it no longer uses do not pile up", async () => {
  const dir = ownCache("cache-running");
  const h = await startTestHost({ echo: { entry: "echo.ts" } }, { cacheUpkeepMs: 100 });
  try {
    await waitFor(() => existsSync(join(dir, "trimmed")), "the first trim has looked", 10_000);
    // a week and a day on: what earlier deploys and reloads compiled, unused since
    const old = made(join(dir, "replaced-0123456789ab.mjs"), UNUSED_MS + DAY);
    const yesterday = new Date(Date.now() - DAY - 60_000);
    utimesSync(join(dir, "trimmed"), yesterday, yesterday);
    await waitFor(() => !existsSync(old), "the running host removes the bundle unused for a week", 10_000);
    assert.is(await (await h.fetch("/echo", { method: "POST", body: "still serves" })).text(), "still serves");
  } finally {
    await h.stop();
  }
});

test("a host on a cache folder not made yet makes it private (0700) and has nothing to trim", async () => {
  const dir = ownCache("not-yet/cache");
  const h = await startTestHost({ echo: { entry: "echo.ts" } });
  try {
    await waitFor(() => existsSync(join(dir, "trimmed")), "the trim has looked", 10_000);
    assert.is(statSync(dir).mode & 0o777, 0o700);
    assert.not.ok(
      h.logs.some((l) => /could not be trimmed|entries unused/.test(l)),
      h.logs.join(""),
    );
  } finally {
    await h.stop();
  }
});

test("lanes start on a cache folder that is a symbolic link is refused, and removes nothing where it points", async () => {
  const target = join(scratch, "somewhere-else");
  const kept = made(join(target, "theirs-0123456789ab.mjs"), UNUSED_MS + DAY);
  const dir = join(scratch, "linked-cache");
  symlinkSync(target, dir);
  const refused = await startCli(["start", makeFunctionsDir({ echo: { entry: "echo.ts" } }), "--port", "0"], {
    env: { ...hostEnvironment(adapter.name), LANES_CACHE_DIR: dir },
  }).then(
    (cli) => {
      cli.kill("SIGKILL");
      return "it started";
    },
    (e: Error) => e.message,
  );
  assert.match(refused, /exited with 1 before listening[\s\S]*compile cache .*linked-cache: is a symbolic link/);
  assert.ok(existsSync(kept), "nothing in the link's target was removed");
  assert.not.ok(existsSync(join(target, "trimmed")));
});

test("a bundle built before and reused counts as used, and so does its build record", async () => {
  const dir = ownCache("cache-6");
  const entry = made(join(scratch, "src", "hello.ts"), 0, 'export default { fetch: () => new Response("hi") };\n');
  const first = await compile(entry, sys, "hello");
  const record = join(dir, "builds", names(join(dir, "builds"))[0]!);
  const longAgo = new Date(Date.now() - UNUSED_MS + DAY);
  for (const p of [first.file, record]) utimesSync(p, longAgo, longAgo);
  const again = await compile(entry, sys, "hello");
  assert.is(again.file, first.file, "reused");
  await waitFor(() => [first.file, record].every((p) => Date.now() - statSync(p).mtimeMs < 60_000), "both are noted as used now", 5000);
});

/** Every file under `dir` with its size and modification time. */
function filesOf(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const p = join(e.parentPath, e.name);
      const st = statSync(p);
      return `${p.slice(dir.length)} ${st.size} ${st.mtimeMs}`;
    })
    .sort();
}

/** Where the sandbox of child `pid` mounts its home from, and whether read-only (its /proc/PID/mountinfo). */
function homeMount(pid: number): { root: string; readOnly: boolean } | undefined {
  // fields: id parent dev root mountpoint options ...
  const line = readFileSync(`/proc/${pid}/mountinfo`, "utf8")
    .split("\n")
    .find((l) => l.split(" ")[4] === "/lanes/home");
  if (!line) return undefined;
  const f = line.split(" ");
  return { root: f[3]!, readOnly: f[5]!.split(",").includes("ro") };
}

test("Deno children start from one home the host warmed, read-only, shared by every function; removed under a running host, it is warmed again", async () => {
  const dir = ownCache("cache-5");
  assert.ok(adapter.sandbox().available, "a Deno child has a home in the sandbox only: this test needs bubblewrap (apt-get install bubblewrap)");
  // net: no warm spare serves it, a child of its own does; the other is served by a spare
  const h = await startTestHost({
    crashy: { entry: "chaos-fault.ts", lane: "process", runtime: "deno", permissions: { net: true }, instances: { min: 1, max: 1 } },
    other: { entry: "env.ts", lane: "process", runtime: "deno" },
  });
  const warmed = () => names(join(dir, "homes")).filter((n) => /^deno-[0-9a-f]{16}$/.test(n));
  /** A new child of crashy (the last one crashed), and where its home comes from. */
  const freshChild = async () => {
    await expectError(await h.fetch("/crashy?do=exit"), 502, "instance_crashed");
    await waitFor(async () => (await h.fetch("/crashy")).status === 200, "a new instance serves", 15_000);
    return homeMount(servingPid(h, "crashy"));
  };
  try {
    await waitFor(
      () => warmed().length === 1,
      () => `the host warms the Deno children's home (homes: ${names(join(dir, "homes")).join(", ")})`,
      30_000,
    );
    const home = join(dir, "homes", warmed()[0]!);
    const before = filesOf(home);
    assert.ok(
      before.some((f) => f.startsWith("/.cache/deno/v8_code_cache")),
      `Deno's code cache is in it: ${before.join(", ")}`,
    );
    const mount = await freshChild();
    assert.ok(mount?.root.endsWith(`/homes/${warmed()[0]}`) && mount.readOnly, `the child's home: ${JSON.stringify(mount)}`);
    assert.is((await h.fetch("/other")).status, 200);
    assert.equal(filesOf(home), before, "no child wrote to it");
    assert.equal(
      names(join(dir, "homes")).filter((n) => n !== warmed()[0] && n !== "deno-empty"),
      [],
      "no home of a function's or a spare's own",
    );
    rmSync(home, { recursive: true, force: true }); // as another host's trim would, a week on
    assert.ok((await freshChild())?.readOnly, "a child started meanwhile has a read-only home too");
    await waitFor(() => existsSync(home), "the home is warmed again", 30_000);
    const again = await freshChild();
    assert.ok(again?.root.endsWith(`/homes/${warmed()[0]}`), `the next child starts from it: ${JSON.stringify(again)}`);
  } finally {
    await h.stop();
  }
});

test("a Node child's startup snapshot notes its use, and one removed under a running host is built again", async () => {
  const dir = ownCache("cache-7");
  // a heap size of its own (its own blob), net so that no warm spare serves it, reaped at once
  const h = await startTestHost({
    snap: { entry: "snapshot-probe.ts", lane: "process", runtime: "node", memoryMb: 93, permissions: { net: true }, instances: { min: 0, max: 1, idleMs: 100 } },
  });
  const blobs = () => names(dir).filter((n) => /^guest-child-snapshot-[0-9a-f]{16}-93\.blob$/.test(n));
  /** Ask until a child restored from the snapshot answers (each asks a new child: the last was reaped). */
  const restored = () =>
    waitFor(
      async () => {
        await waitFor(() => h.host.functions[0]!.pool!.empty, "the last child is reaped", 5000);
        const res = await h.fetch("/snap");
        assert.is(res.status, 200);
        return ((await res.json()) as { restored: boolean }).restored;
      },
      "a child restored from the snapshot answers",
      30_000,
    );
  try {
    await restored();
    assert.is(blobs().length, 1, names(dir).join(", "));
    const blob = join(dir, blobs()[0]!);
    rmSync(blob); // as another host's trim would, a week on
    await waitFor(() => h.host.functions[0]!.pool!.empty, "the last child is reaped", 5000);
    const res = await h.fetch("/snap");
    assert.is(res.status, 200, "a child starts without the blob");
    assert.is(((await res.json()) as { restored: boolean }).restored, false, "from the bundle, while the blob is built again");
    await waitFor(() => existsSync(blob), "the blob is built again", 15_000);
    // made to look unused for a week: the next child restored from it notes its use
    const longAgo = new Date(Date.now() - UNUSED_MS - DAY);
    utimesSync(blob, longAgo, longAgo);
    await restored();
    assert.ok(Date.now() - statSync(blob).mtimeMs < 60_000, "the blob's use is noted");
  } finally {
    await h.stop();
  }
});

/** `rm -rf dir` while the host may still be writing in it (a Deno home it warms): again until gone, as one would. */
function removeWhileWritten(dir: string): void {
  for (let i = 0; ; i++) {
    try {
      return rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      if (i === 20) throw e;
    }
  }
}

test("a cache folder removed under a running host, then made again by a mkdir of a folder inside it, is made private again at the next look", async () => {
  const dir = join(scratch, "cache-remade");
  ensurePrivateDirSync(dir);
  assert.is(statSync(dir).mode & 0o777, 0o700);
  rmSync(dir, { recursive: true });
  mkdirSync(join(dir, "spares", "x"), { recursive: true }); // as a spare's folder was made, right after
  chmodSync(dir, 0o755); // the default mode, whatever this machine's umask
  assert.is(statSync(dir).mode & 0o777, 0o755, "made again readable by all");
  ensurePrivateDirSync(dir);
  assert.is(statSync(dir).mode & 0o777, 0o700, "private again");
  // and lanes' own mkdir of a folder inside it looks again after it has made it
  const cache = ownCache("cache-remade-by-lanes");
  ensurePrivateDirSync(cache);
  rmSync(cache, { recursive: true });
  await adapter.sys.mkdirp(join(cache, "spares", "y"));
  assert.is(statSync(cache).mode & 0o777, 0o700, "made again by lanes' mkdirp, private");
  // a folder of the user's own, met first, keeps its mode (it is refused only if others can write to it)
  const own = join(scratch, "cache-own");
  mkdirSync(own);
  chmodSync(own, 0o755);
  ensurePrivateDirSync(own);
  assert.is(statSync(own).mode & 0o777, 0o755);
});

test("a host whose whole cache folder is removed while it runs starts its next instances in both lanes, and makes the folder again, private", async () => {
  const dir = ownCache("cache-8");
  assert.ok(adapter.sandbox().available, "this test's process-lane child runs in the sandbox: it needs bubblewrap (apt-get install bubblewrap)");
  // one instance each: with two (the load check's start and a request that came while it was
  // starting), the crash left the other serving, no start needed the folder, and none made it
  const h = await startTestHost({ p: { entry: "chaos-fault.ts", lane: "process", instances: { max: 1 } }, i: { entry: "chaos-fault.ts", instances: { max: 1 } } });
  const spareErrors = () => h.logs.filter((l) => /spare (could not be started|failed to start)/.test(l)).length;
  try {
    for (const f of ["p", "i"]) assert.is((await h.fetch(`/${f}`)).status, 200, f);
    // the spare that replaced the one the load check took is ready first: one still starting when
    // the folder goes loses its working directory (a deno spare: "could not read current working
    // directory") and is only tried again, which is not what this test is about: the starts after
    await waitFor(
      () => h.host.spares.describe().every((s) => s.starting === 0),
      () => `the spares are ready: ${JSON.stringify(h.host.spares.describe())}`,
      15_000,
    );
    removeWhileWritten(dir); // as someone freeing disk would
    for (const f of ["p", "i"]) await expectError(await h.fetch(`/${f}?do=exit`), 502, "instance_crashed");
    // a spare taken meanwhile may have lost its folder: one failed start at most, then served
    await waitFor(
      async () => (await h.fetch("/p")).status === 200 && (await h.fetch("/i")).status === 200,
      () => `both functions serve again:\n${h.logs.slice(-6).join("")}`,
      15_000,
    );
    // made again by the first start that needs it: under load both may have served from spares
    // started before it was removed, and the spares that replace them make it
    const mode = () => (existsSync(dir) ? statSync(dir).mode & 0o777 : undefined);
    await waitFor(
      () => mode() === 0o700,
      () => `the folder is made again, private (mode ${mode()?.toString(8) ?? "none"}):\n${h.logs.slice(-6).join("")}`,
      15_000,
    );
    assert.is(spareErrors(), 0, `the spares found their files too: ${h.logs.filter((l) => /spare (could not|failed)/.test(l)).join("")}`);
  } finally {
    await h.stop();
  }
});

test.run();
