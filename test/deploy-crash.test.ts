/**
 * A host killed with SIGKILL in the middle of a deploy restarts serving a complete version:
 * the old one when it died before the active record was replaced, the new one after, never a
 * mix and never nothing. LANES_TEST_PAUSE_AT makes the host wait at one stage of its writes so
 * the kill lands exactly there.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { adapter } from "./helpers/host.ts";
import { api, deploy, get, many, scratchDir, sleep, startStoreHost, tokenFile, versionDir, type StoreHost } from "./helpers/deploy.ts";

const test = suite<{ data: string; tokens: string; dir: string }>(`a deploy killed on ${adapter.name}`);
const STAGES = ["blob", "version", "deployment", "active-temp", "active"] as const;

test.before((ctx) => {
  ctx.data = join(scratchDir("crash-"), "store");
  ctx.tokens = tokenFile();
  ctx.dir = versionDir("build-1");
});

const start = (ctx: { data: string; tokens: string; dir: string }, pauseAt?: string) =>
  startStoreHost(ctx.dir, ctx.data, ["--admin-token-file", ctx.tokens], pauseAt ? { LANES_TEST_PAUSE_AT: pauseAt } : {});

/** Every function answers from `marker`'s version, and the store says that version is active. */
async function assertServes(host: StoreHost, marker: string, why: string) {
  for (const path of ["/greet", "/greet-proc"]) {
    const s = await get(host.url, path);
    assert.equal([s.status, s.text], [200, marker], `${why}: ${path}`);
  }
  const v = await api(host.url, "GET", "versions");
  const active = v.json.active as { stable: string; canary: unknown };
  const versions = v.json.versions as { id: string; author: string; message: string | null }[];
  assert.is(active.canary, null);
  const named = versions.find((x) => x.id === active.stable);
  // version 1 is the folder the store started on; the deploys carry their marker as message
  assert.is(named?.author === "lanes" ? "build-1" : named?.message, marker, `${why}: the active record names that version`);
}

async function killWhenPaused(host: StoreHost, stage: string) {
  const end = Date.now() + 30_000;
  while (!host.output().includes(`paused at ${stage} `)) {
    if (Date.now() > end) throw new Error(`the host never paused at ${stage}:\n${host.output()}`);
    await sleep(20);
  }
  host.kill("SIGKILL");
  await host.exited;
}

test("SIGKILL at each stage of a deploy, then a restart: the old version before the switch, the new one after, always complete", async (ctx) => {
  const first = await start(ctx);
  await assertServes(first, "build-1", "a new store");
  first.kill("SIGKILL");
  await first.exited;
  let serving = "build-1";
  for (const [i, stage] of STAGES.entries()) {
    const host = await start(ctx, stage);
    await assertServes(host, serving, `after a kill at ${STAGES[i - 1] ?? "start-up"}`);
    const marker = `build-${i + 2}`;
    const pending = deploy(host.url, versionDir(marker), { message: marker }).catch(() => undefined);
    await killWhenPaused(host, stage);
    await pending;
    if (stage === "active-temp") {
      const temps = readdirSync(ctx.data).filter((n) => n.startsWith(".active.json.") && n.endsWith(".tmp"));
      assert.is(temps.length, 1, "killed with the new active record written to its temp file, not yet renamed");
    }
    if (stage === "active") serving = marker;
  }
  const last = await start(ctx);
  try {
    await assertServes(last, serving, "after a kill at active");
    assert.equal(readdirSync(ctx.data).filter((n) => n.endsWith(".tmp")), [], "temp files of interrupted writes are gone");
  } finally {
    await last.stop();
  }
});

test("a restarted host serves its active deployment, a gradual one included", async (ctx) => {
  const host = await start(ctx);
  const r = await deploy(host.url, versionDir("canary"), { percent: 40, message: "canary" });
  assert.is(r.status, 201, r.text);
  const id = r.json.version as string;
  host.kill("SIGTERM");
  await host.exited;
  const again = await start(ctx);
  try {
    const d = (await api(again.url, "GET", "deployment")).json.active as { canary: { version: string; percent: number } };
    assert.equal([d.canary.version, d.canary.percent], [id, 40]);
    const pinned = await many(again.url, "/greet-proc", 10, 2, { "lanes-version": id });
    assert.ok(pinned.every((s) => s.status === 200 && s.text === "canary"), "the new version is up again");
    const split = await many(again.url, "/greet", 100, 5);
    assert.ok(split.some((s) => s.text === "canary") && split.some((s) => s.text !== "canary"), "and gets its share");
  } finally {
    await again.stop();
  }
});

test.run();
