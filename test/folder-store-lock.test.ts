/**
 * One host per `--data` folder: hosts that shared one both deployed "v14", and the folder kept
 * only one of them. A second `lanes start` on a folder a live host holds exits 1 naming it,
 * whatever path reaches the folder; a host that stops lets it go; a host killed with SIGKILL
 * leaves a hold the next start takes over. The hosts run under the runtime running this file.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { FolderStore } from "../runtime/deploy/folder-store.ts";
import { isLanesError } from "../runtime/errors.ts";
import { deploy, get, scratchDir, startStoreHost, tokenFile, versionDir, type StoreHost } from "./helpers/deploy.ts";
import { adapter } from "./helpers/host.ts";

const test = suite<{ data: string; tokens: string; hosts: StoreHost[] }>(`one host per --data folder on ${adapter.name}`);

test.before((ctx) => {
  ctx.data = join(scratchDir("held-"), "store");
  ctx.tokens = tokenFile();
  ctx.hosts = [];
});

test.after(async ({ hosts }) => {
  await Promise.all(hosts.map((h) => h.stop()));
});

const oneFunction = (marker: string) =>
  versionDir(marker, "ok", (m) => {
    m.functions = { greet: { entry: "greet.ts", lane: "isolate" } };
  });

/** `lanes start` on `data`: the host once it listens, or what it printed when it exited before. */
async function tryStart(ctx: { tokens: string; hosts: StoreHost[] }, data: string): Promise<StoreHost | string> {
  try {
    const h = await startStoreHost(oneFunction("unused"), data, ["--admin-token-file", ctx.tokens]);
    ctx.hosts.push(h);
    return h;
  } catch (e) {
    return (e as Error).message;
  }
}

function assertRefused(out: StoreHost | string, holder: StoreHost, why: string): void {
  assert.type(out, "string", `${why}: a second host started on a held folder`);
  assert.match(out as string, /exited \(1\) before listening/, why);
  assert.match(out as string, new RegExp(`another lanes host holds this store \\(pid ${holder.pid} on `), why);
  assert.match(out as string, /one host per --data folder.*--store etcd:\/\//, why);
}

test("a second host on a held folder exits 1 naming the holder's pid, by any path to the folder; the first keeps serving and deploying, and once it stops another starts", async (ctx) => {
  const first = await startStoreHost(oneFunction("first"), ctx.data, ["--admin-token-file", ctx.tokens]);
  ctx.hosts.push(first);
  const link = join(scratchDir("link-"), "store");
  symlinkSync(ctx.data, link);
  const [same, other] = await Promise.all([tryStart(ctx, ctx.data), tryStart(ctx, `${link}/`)]);
  assertRefused(same, first, "the same path");
  assertRefused(other, first, "a symlink, with a trailing slash");

  assert.is((await get(first.url, "/greet")).text, "first");
  const d = await deploy(first.url, oneFunction("second"));
  assert.is(d.status, 201, d.text);
  assert.is((await get(first.url, "/greet")).text, "second");

  await first.stop(); // SIGTERM
  ctx.hosts.splice(ctx.hosts.indexOf(first), 1);
  const next = await tryStart(ctx, ctx.data);
  assert.ok(typeof next !== "string", `after the first stopped: ${next}`);
  assert.is((await get(next.url, "/greet")).text, "second", "it serves the active deployment");
  assert.not.match(next.output(), /took over/, "a host that stopped left no hold to take over");
});

test("a host killed with SIGKILL leaves a hold the next start takes over, saying so; of two started at once, one takes it and the other is refused", async (ctx) => {
  const killed = ctx.hosts.pop() ?? (await startStoreHost(oneFunction("first"), ctx.data, ["--admin-token-file", ctx.tokens]));
  await Promise.all(ctx.hosts.splice(0).map((h) => h.stop())); // (none, unless the test before failed)
  killed.kill("SIGKILL");
  await killed.exited;
  const both = await Promise.all([tryStart(ctx, ctx.data), tryStart(ctx, ctx.data)]);
  const up = both.filter((h) => typeof h !== "string");
  assert.is(up.length, 1, `exactly one host starts:\n${both.map((h) => (typeof h === "string" ? h : h.output())).join("\n---\n")}`);
  const [winner, loser] = typeof both[0] === "string" ? [up[0]!, both[0]] : [up[0]!, both[1]!];
  assert.match(winner.output(), new RegExp(`took over the hold of pid ${killed.pid} on .*: its process is gone`));
  assertRefused(loser, winner, "beside the host that took over");
  const d = await deploy(winner.url, oneFunction("third"));
  assert.is(d.status, 201, d.text);
  assert.is((await get(winner.url, "/greet")).text, "third");
});

/** Write the hold a host `pid` (started at `start`, on `host`) would have left in `data`: above the ones there, it is the one that counts. */
function leaveHold(data: string, r: { pid: number; start: string; host?: string }): void {
  const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  const hold = { pid: r.pid, host: r.host ?? hostname(), boot, start: r.start, since: "2026-01-01T00:00:00.000Z", id: crypto.randomUUID() };
  const n = Math.max(0, ...readdirSync(data).map((name) => Number(/^\.host\.(\d+)\.lock$/.exec(name)?.[1] ?? 0)));
  writeFileSync(join(data, `.host.${n + 1}.lock`), JSON.stringify(hold));
}

const startOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]!;
};

async function refusal(data: string): Promise<string> {
  const e = await FolderStore.open(data, adapter.sys).then(
    async (s) => {
      await s.close();
      return undefined;
    },
    (err: unknown) => err,
  );
  assert.ok(isLanesError(e) && e.code === "conflict", `a live hold is refused: ${String(e)}`);
  return (e as Error).message;
}

test("a hold naming a live process refuses the store, one on another machine says how to clear it; a reused pid or a gone process is taken over; one process may open it twice", async () => {
  const data = scratchDir("holds-");
  await (await FolderStore.open(data, adapter.sys)).close(); // a store, released
  const live = process.ppid; // the test runner, alive throughout
  leaveHold(data, { pid: live, start: startOf(live) });
  assert.match(await refusal(data), new RegExp(`pid ${live} on ${hostname()}, since 2026-01-01`));
  leaveHold(data, { pid: live, start: startOf(live), host: "elsewhere.example" });
  assert.match(await refusal(data), /runs on another machine, where lanes cannot see whether it still does: if it does not, delete .*\.host\.\d+\.lock$/);

  for (const [pid, start, why] of [
    [live, "1", `pid ${live} is another process now`],
    [spawnSync("true").pid!, "1", "its process is gone"],
  ] as const) {
    leaveHold(data, { pid, start });
    const warned: string[] = [];
    const s = await FolderStore.open(data, adapter.sys, undefined, (line) => warned.push(line));
    assert.equal(warned.length, 1, why);
    assert.match(warned[0]!, new RegExp(`took over the hold of pid ${pid} on .*: ${why}`));
    const again = await FolderStore.open(`${data}/`, adapter.sys); // the same process: shares it
    await again.close();
    const holds = readdirSync(data).filter((n) => n.endsWith(".lock"));
    assert.equal(holds.length, 1, `the lower holds are removed: ${holds}`);
    const hold = () => JSON.parse(readFileSync(join(data, holds[0]!), "utf8")) as { pid: number; released?: string };
    assert.equal([hold().pid, hold().released], [process.pid, undefined], "still held after one of two opens closed");
    await s.close();
    assert.ok(hold().released, "released once both closed");
  }
});

test("opening a store leaves alone the half-made hold of a host starting beside it, and clears those whose maker is gone", async () => {
  const data = scratchDir("hold-temps-");
  await (await FolderStore.open(data, adapter.sys)).close();
  const live = `.host.7.lock.${process.ppid}.0123abcd.tmp`; // the runner, alive throughout: a host linking it now
  const dead = `.host.7.lock.${spawnSync("true").pid}.0123abcd.tmp`;
  for (const name of [live, dead]) writeFileSync(join(data, name), "{}");
  await (await FolderStore.open(data, adapter.sys)).close();
  const left = readdirSync(data).filter((n) => n.endsWith(".tmp"));
  assert.equal(left, [live], "a starting host's link(2) source must not vanish under it (it then failed with ENOENT)");
});

test("a folder that is not a store is refused and left as it was; one holding only a store's own folders, as a host beside makes it, is opened", async () => {
  const notes = scratchDir("not-a-store-");
  writeFileSync(join(notes, "notes.txt"), "mine");
  const e = await FolderStore.open(notes, adapter.sys).then(
    () => undefined,
    (err: Error) => err,
  );
  assert.match(String(e?.message), /holds files but is not a lanes store/);
  assert.equal(readdirSync(notes), ["notes.txt"], "nothing was written there, not even a hold");

  const making = scratchDir("making-");
  for (const sub of ["blobs", "versions", "secrets"]) mkdirSync(join(making, sub));
  await (await FolderStore.open(making, adapter.sys)).close();
  assert.ok(readdirSync(making).includes("store.json"));
});

test.run();
