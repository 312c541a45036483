/**
 * A host killed with SIGKILL in the middle of a deploy restarts serving a complete deployment:
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

const test = suite<{ data: string; tokens: string; dir: string; host?: StoreHost }>(`a deploy killed on ${adapter.name}`);
const STAGES = ["blob", "version", "deployment", "active-temp", "active"] as const;

/**
 * A version without `steady`: nothing here asks for it, and its instance (instances.min 1) was
 * one more worker started at each of the six starts and five deploys.
 */
const version = (marker: string) => versionDir(marker, "ok", (m) => delete (m.functions as Record<string, unknown>).steady);

test.before((ctx) => {
  ctx.data = join(scratchDir("crash-"), "store");
  ctx.tokens = tokenFile();
  ctx.dir = version("build-1");
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
}

test("SIGKILL at each stage of a deploy, then a restart: the old deployment before the switch, the new one after, always complete", async (ctx) => {
  for (const [i, stage] of STAGES.entries()) {
    // the first start makes version 1 (start-up never pauses: only deploys do)
    const host = await start(ctx, stage);
    try {
      await assertServes(host, "build-1", i === 0 ? "a new store" : `after a kill at ${STAGES[i - 1]}`);
      const marker = `build-${i + 2}`;
      // the last one is a gradual deployment: a restart must bring both versions back
      const pending = deploy(host.url, version(marker), { message: marker, ...(stage === "active" ? { percent: 40 } : {}) }).catch(() => undefined);
      await killWhenPaused(host, stage);
      host.kill("SIGKILL");
      await host.exited;
      await pending;
    } finally {
      host.kill("SIGKILL"); // (gone already unless a check failed)
      await host.exited;
    }
    if (stage === "active-temp") {
      const temps = readdirSync(ctx.data).filter((n) => n.startsWith(".active.json.") && n.endsWith(".tmp"));
      assert.is(temps.length, 1, "killed with the new active record written to its temp file, not yet renamed");
    }
  }
  ctx.host = await start(ctx);
  assert.equal(
    readdirSync(ctx.data).filter((n) => n.endsWith(".tmp")),
    [],
    "temp files of interrupted writes are gone",
  );
});

test("a restarted host serves its active deployment, a gradual one included", async ({ host }) => {
  assert.ok(host, "the host of the test above is running");
  const d = (await api(host!.url, "GET", "deployment")).json.active as { stable: string; canary: { version: string; percent: number } };
  assert.equal([d.stable, d.canary.percent], ["v1", 40], "killed after the switch was written: the gradual deployment is active");
  const pinned = await many(host!.url, "/greet-proc", 10, 2, { "lanes-version": d.canary.version });
  assert.ok(
    pinned.every((s) => s.status === 200 && s.text === "build-6"),
    "the new version is up again, complete",
  );
  const stable = await many(host!.url, "/greet-proc", 10, 2, { "lanes-version": "v1" });
  assert.ok(
    stable.every((s) => s.status === 200 && s.text === "build-1"),
    "and the stable one",
  );
  const split = await many(host!.url, "/greet", 100, 5);
  assert.ok(split.some((s) => s.text === "build-6") && split.some((s) => s.text === "build-1"), "each gets its share");
  assert.ok(split.every((s) => s.status === 200 && (s.text === "build-6") === (s.version === d.canary.version)));
});

test.after(async (ctx) => {
  await ctx.host?.stop();
});

test.run();
