/**
 * The history of deployments under retention: a store keeps the newest HISTORY_KEPT deployments
 * (the ones `lanes versions` lists), not every one ever made, and revisions go on from the
 * active one; a prune racing another host's switch (two hosts on one etcd) never leaves the
 * active deployment naming a version it removed, and one racing a rollback's loading of its
 * version makes it a 404 saying so (a host in etcd's way choosing the moment). On a folder store through a real host, and on
 * a real etcd through the store itself, with its pause points widening the race's window.
 */
import { readdirSync } from "node:fs";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EtcdClient } from "../runtime/deploy/etcd-client.ts";
import { EtcdStore } from "../runtime/deploy/etcd-store.ts";
import { parseEtcdUrl } from "../runtime/deploy/etcd-url.ts";
import { FolderStore } from "../runtime/deploy/folder-store.ts";
import { contentDigest, HISTORY_KEPT, type Deployment, type HostRecord } from "../runtime/deploy/model.ts";
import { prune } from "../runtime/deploy/retention.ts";
import type { DeployStore, PauseStage } from "../runtime/deploy/store.ts";
import { eventually, hostRecords, startClusterHost, type ClusterHost, type Runtime } from "./helpers/cluster.ts";
import { adapter } from "./helpers/host.ts";
import { api, deploy, get, scratchDir, startStoreHost, tokenFile, versionDir } from "./helpers/deploy.ts";
import { startEtcd, type Etcd } from "./helpers/etcd.ts";

const test = suite<{ etcd: Etcd }>(`the history of deployments under retention on ${adapter.name}`);

test.before(async (ctx) => {
  ctx.etcd = await startEtcd();
});

test.after(async (ctx) => {
  await ctx.etcd?.close();
});

const at = () => new Date().toISOString();

/** Versions `ids` in `store`, each with a file of its own, deployed one after the other; the last deployment. */
async function deployed(store: DeployStore, ids: string[]): Promise<Deployment> {
  let d = await store.active();
  for (const id of ids) {
    const files = { "a.js": await store.putBlob(new TextEncoder().encode(`export default "${id}"`)) };
    await store.putVersion({ id, createdAt: at(), tag: null, message: null, author: "ci", files, digest: await contentDigest(files) });
    d = await store.activate({ createdAt: at(), author: "ci", reason: "deploy", message: null, stable: id, canary: null }, d?.revision ?? 0);
  }
  return d!;
}

/** `count` switches between the kept versions `a` and `b` (rollbacks back and forth); the last. */
async function switches(store: DeployStore, d: Deployment, count: number, [a, b]: [string, string]): Promise<Deployment> {
  for (let i = 0; i < count; i++)
    d = await store.activate({ createdAt: at(), author: "ops", reason: "rollback", message: null, stable: d.stable === a ? b : a, canary: null }, d.revision);
  return d;
}

/** No version the active deployment names is missing from the store, nor its file. */
async function whole(store: DeployStore): Promise<void> {
  const active = (await store.active())!;
  for (const id of [active.stable, active.canary?.version].filter((v) => v !== undefined)) {
    const v = await store.getVersion(id);
    assert.ok(v, `the active deployment (${JSON.stringify(active)}) names ${id}, which the store no longer holds`);
    assert.is(new TextDecoder().decode(await store.getBlob(v.files["a.js"]!)), `export default "${id}"`);
  }
}

test("a host on a folder store with 150 deployments keeps the newest 100 after its next deploy: listed, rolled back, numbered on", async () => {
  const data = join(scratchDir("data-"), "store");
  const tokens = tokenFile();
  const flags = ["--admin-token-file", tokens, "--keep-versions", "1"];
  let host = await startStoreHost(versionDir("v1"), data, flags);
  try {
    assert.is((await get(host.url, "/greet")).text, "v1");
  } finally {
    await host.stop();
  }
  // a long-running store: 150 more switches (to v1 again: the one version it has)
  const store = await FolderStore.open(data, adapter.sys);
  try {
    let d = (await store.active())!;
    for (let i = 0; i < 150; i++) d = await store.activate({ createdAt: at(), author: "ops", reason: "rollback", message: null, stable: "v1", canary: null }, d.revision);
    assert.is(d.revision, 151);
  } finally {
    await store.close();
  }
  host = await startStoreHost(versionDir("v1"), data, flags);
  try {
    const r = await deploy(host.url, versionDir("v2"));
    assert.equal([r.status, r.json.version], [201, "v2"], r.text);
    const listed = (await api(host.url, "GET", "versions")).json as { active: Deployment; deployments: Deployment[] };
    assert.is(listed.active.revision, 152, "revisions go on from the active one");
    assert.equal(
      listed.deployments.map((x) => x.revision),
      Array.from({ length: HISTORY_KEPT }, (_, i) => 152 - i),
      "the newest 100, newest first",
    );
    const files = readdirSync(join(data, "deployments")).sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
    assert.is(files.length, HISTORY_KEPT, "the folder holds only those");
    assert.is(files[0], "53.json");
    // rollback without a version still finds the one before, and the number after 152 is 153
    const back = await api(host.url, "POST", "rollback", {});
    assert.equal([back.status, back.json.version], [200, "v1"], back.text);
    assert.is((await get(host.url, "/greet")).text, "v1");
    const after = (await api(host.url, "GET", "versions")).json as { active: Deployment; deployments: Deployment[] };
    assert.equal([after.active.revision, after.deployments.length], [153, HISTORY_KEPT]);
  } finally {
    await host.stop();
  }
});

test("an etcd store keeps the newest 100 deployments after a prune; revisions, rollback's target and a later prune go on", async (ctx) => {
  const target = parseEtcdUrl(`etcd://${ctx.etcd.member}/lanes/history`);
  const store = await EtcdStore.open(target);
  try {
    let d = await deployed(store, ["v1", "v2", "v3"]);
    d = await switches(store, d, 147, ["v2", "v3"]);
    assert.is(d.revision, 150);
    const keys = async () => (await new EtcdClient(ctx.etcd.endpoint, [ctx.etcd.endpoint]).list(`${target.prefix}/deployments/`, { keysOnly: true })).length;
    assert.is(await keys(), 150);
    const pruned = await prune(store, d, 1);
    assert.equal(pruned.versions, ["v1"]);
    assert.is(await keys(), HISTORY_KEPT);
    assert.equal(
      (await store.history()).map((x) => x.revision),
      Array.from({ length: HISTORY_KEPT }, (_, i) => 150 - i),
    );
    d = await switches(store, d, 1, ["v2", "v3"]);
    assert.is(d.revision, 151, "the next revision follows the active one");
    await prune(store, d, 1);
    assert.is(await keys(), HISTORY_KEPT);
    assert.is((await store.history()).at(-1)!.revision, 52);
    await whole(store);
  } finally {
    await store.close();
  }
});

test("etcd: a rollback whose version a prune on another host removes after the rollback looked for it is a 404, and the active deployment stays whole", async (ctx) => {
  const target = parseEtcdUrl(`etcd://${ctx.etcd.member}/lanes/race-switch`);
  const pruner = await EtcdStore.open(target);
  let during: (() => Promise<void>) | undefined;
  const pause = async (stage: PauseStage) => {
    const now = stage === "deployment" ? during : undefined;
    during = undefined;
    await now?.();
  };
  const roller = await EtcdStore.open(target, { pause });
  try {
    const d = await deployed(pruner, ["v1", "v2", "v3", "v4"]);
    // the rollback to v1 has found it kept; before its switch is made, the other host prunes (v4 is active, v3 rollback's target)
    let pruned: string[] = [];
    during = async () => {
      pruned = (await prune(pruner, d, 1)).versions;
    };
    const e = (await roller.activate({ createdAt: at(), author: "ops", reason: "rollback", message: null, stable: "v1", canary: null }, d.revision).catch((x: unknown) => x)) as {
      code?: string;
      message?: string;
    };
    assert.equal(pruned, ["v2", "v1"]);
    assert.is(e.code, "not_found", e.message ?? `the rollback went through: ${JSON.stringify(e)}`);
    assert.match(String(e.message), /version v1 is no longer in the store .*: retention removed it meanwhile/);
    assert.is((await roller.active())?.stable, "v4");
    await whole(roller);
  } finally {
    await pruner.close();
    await roller.close();
  }
});

/** A store's pause hook that, once, when `stage` is reached, runs what another host does at that moment (`meanwhile`). */
function pauseAt(stage: PauseStage) {
  let during: (() => Promise<unknown>) | undefined;
  return {
    pause: async (at: PauseStage) => {
      const now = at === stage ? during : undefined;
      during = undefined;
      await now?.();
    },
    meanwhile: (f: () => Promise<unknown>) => void (during = f),
    ran: () => during === undefined,
  };
}

/** `roller` rolls back to v1 between the reads of `pruner`'s prune and its removal (`hook`: the pause `pruner` was opened with): v1 stays, the prune reads again. */
async function rollBackMidPrune(pruner: DeployStore, roller: DeployStore, hook: ReturnType<typeof pauseAt>): Promise<void> {
  const d = await deployed(pruner, ["v1", "v2", "v3", "v4"]);
  hook.meanwhile(() => roller.activate({ createdAt: at(), author: "ops", reason: "rollback", message: null, stable: "v1", canary: null }, d.revision));
  const pruned = await prune(pruner, d, 1);
  assert.ok(hook.ran(), "the rollback was made meanwhile");
  assert.not.ok(pruned.versions.includes("v1"), `removed ${pruned.versions.join(", ")}`);
  assert.is((await roller.active())?.stable, "v1");
  await whole(roller);
}

test("etcd: a rollback another host makes between a prune's reads and its removal keeps its version; the prune reads again", async (ctx) => {
  const target = parseEtcdUrl(`etcd://${ctx.etcd.member}/lanes/race-prune`);
  const hook = pauseAt("prune");
  const pruner = await EtcdStore.open(target, { pause: hook.pause });
  const roller = await EtcdStore.open(target);
  try {
    await rollBackMidPrune(pruner, roller, hook);
    assert.ok(await roller.getVersion("v4"), "nor the one a rollback from v1 goes back to");
  } finally {
    await pruner.close();
    await roller.close();
  }
});

test("folder: a switch between a prune's reads and its removal keeps its version; the prune reads again", async () => {
  const hook = pauseAt("prune");
  const store = await FolderStore.open(join(scratchDir("data-"), "store"), adapter.sys, hook.pause);
  try {
    await rollBackMidPrune(store, store, hook);
  } finally {
    await store.close();
  }
});

/**
 * A way to etcd for one host that, before passing on a read or a write of a key, runs `before(key)` (what
 * another host does at that moment): the host and etcd are real, only the timing is chosen.
 */
async function etcdFront(endpoint: string, before: (key: string) => Promise<void>): Promise<{ member: string; close(): void }> {
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(parts);
      if (req.url === "/v3/kv/range" || req.url === "/v3/kv/put") await before(Buffer.from((JSON.parse(body.toString()) as { key: string }).key, "base64").toString());
      const up = http.request(`${endpoint}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      up.on("error", () => res.destroy());
      up.end(body);
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    member: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

test("etcd: a rollback whose version another host's prune removes while it is being staged is a 404 saying retention removed it, on every host; nothing switches, the hosts serve on", async (ctx) => {
  const prefix = "lanes/race-files";
  let during: (() => Promise<void>) | undefined;
  // the rollback has read v1's record and is about to stage it for the other hosts: the prune comes then
  const front = await etcdFront(ctx.etcd.endpoint, async (key) => {
    // each staging's own key: staged/<version>/<stage>
    if (!key.startsWith(`/${prefix}/staged/v1/`)) return;
    const now = during;
    during = undefined;
    await now?.();
  });
  const runtime = adapter.name as Runtime;
  const store = `etcd://${ctx.etcd.member}/${prefix}`;
  const roller = await startClusterHost(runtime, versionDir("v1"), `etcd://${front.member}/${prefix}`, ["--admin-token-file", tokenFile()]);
  let other: ClusterHost | undefined;
  const pruner = await EtcdStore.open(parseEtcdUrl(store));
  try {
    for (const marker of ["v2", "v3", "v4"]) {
      const r = await deploy(roller.url, versionDir(marker));
      assert.equal([r.status, r.json.version], [201, marker], r.text);
    }
    other = await startClusterHost(runtime, versionDir("v1"), store, ["--admin-token-file", tokenFile()]);
    assert.ok(await eventually(async () => (await hostRecords(roller.url)).length === 2), "the other host joins");
    let pruned: string[] = [];
    during = async () => {
      pruned = (await prune(pruner, (await pruner.active())!, 1)).versions;
    };
    const back = await api(roller.url, "POST", "rollback", { version: "v1" });
    assert.is(during, undefined, "the prune ran while the rollback staged v1");
    assert.equal(pruned, ["v2", "v1"]);
    const said = /^version v1 is no longer in the store etcd:\/\/\S+: retention removed it meanwhile \(older than the newest --keep-versions\); nothing was changed$/;
    assert.is(back.status, 404, back.text);
    assert.is((back.json.error as { code: string }).code, "not_found");
    assert.match((back.json.error as { message: string }).message, said);
    // the other host, told to load v1 as it was staged, says the same of it, not that a blob is missing
    let prepared: HostRecord["prepared"] = null;
    assert.ok(
      await eventually(async () => {
        prepared = (await hostRecords(roller.url)).find((h) => h.url === other!.url)?.prepared ?? null;
        return prepared?.version === "v1" && prepared.error !== null;
      }),
      "the other host loaded v1 for the rollback",
    );
    assert.match(prepared!.error!, said);
    assert.is((await pruner.active())?.stable, "v4", "nothing switched");
    for (const h of [roller, other]) assert.is((await get(h.url, "/greet")).text, "v4", `${h.runtime} serves on`);
    const again = await api(roller.url, "POST", "rollback", { version: "v3" });
    assert.equal([again.status, again.json.version], [200, "v3"], again.text);
    assert.ok(await eventually(async () => (await get(other!.url, "/greet")).text === "v3"), "and follows the next switch");
  } finally {
    await pruner.close();
    await other?.stop();
    await roller.stop();
    front.close();
  }
});

test.run();
