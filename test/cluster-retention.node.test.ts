/**
 * Retention on etcd (`--keep-versions N` with `--store etcd://...`): a deploy removes the old
 * versions, their blobs and chunks, and compacts etcd's history; a host following the store
 * still follows after that; a sweep racing an upload on another host leaves its blobs alone.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EtcdClient, text, type KeyValue } from "../runtime/deploy/etcd-client.ts";
import { EtcdStore } from "../runtime/deploy/etcd-store.ts";
import { EtcdRetention } from "../runtime/deploy/etcd-sweep.ts";
import { parseEtcdUrl } from "../runtime/deploy/etcd-url.ts";
import { contentDigest, sha256Hex, type Deployment, type VersionRecord } from "../runtime/deploy/model.ts";
import { prune } from "../runtime/deploy/retention.ts";
import { eventually, startClusterHost, type ClusterHost } from "./helpers/cluster.ts";
import { api, deploy, get, scratchDir, tokenFile, versionDir } from "./helpers/deploy.ts";
import { startEtcd, type Etcd } from "./helpers/etcd.ts";

interface Ctx {
  etcd: Etcd;
  hosts: ClusterHost[];
  /** The hosts' cache folder, theirs alone: their copies of versions are under run/. */
  cache: string;
}
const test = suite<Ctx>("retention on an etcd store shared by two hosts");
const PREFIX = "lanes/keep";

test.before(async (ctx) => {
  ctx.hosts = [];
  ctx.cache = scratchDir("cache-");
  process.env.LANES_CACHE_DIR = ctx.cache; // this process's own: the hosts started below take it
  ctx.etcd = await startEtcd();
  const store = `etcd://${ctx.etcd.member}/${PREFIX}`;
  const extra = ["--admin-token-file", tokenFile(), "--log", "json", "--keep-versions", "2"];
  ctx.hosts.push(await startClusterHost("node", versionDir("v1"), store, extra));
  ctx.hosts.push(await startClusterHost("bun", versionDir("v1"), store, extra));
});

test.after(async (ctx) => {
  await Promise.all((ctx.hosts ?? []).map((h) => h.stop()));
  await ctx.etcd?.close();
});

/** Every key under `rest` of the store (values too); the store's keys begin with the URL's path. */
async function keys(etcd: Etcd, rest: string, prefix = `/${PREFIX}`): Promise<KeyValue[]> {
  return new EtcdClient(etcd.endpoint, [etcd.endpoint]).list(`${prefix}/${rest}`);
}

test("past --keep-versions 2, the old versions, their blobs and chunks leave etcd, its history is compacted, and the other host still follows", async (ctx) => {
  const [node, bun] = ctx.hosts as [ClusterHost, ClusterHost];
  for (const marker of ["v2", "v3", "v4"]) {
    const r = await deploy(node.url, versionDir(marker));
    assert.is(r.status, 201, r.text);
    assert.ok(await eventually(async () => (await get(bun.url, "/greet")).text === marker), `bun follows to ${marker}`);
  }
  const listed = ((await api(bun.url, "GET", "versions")).json.versions as { id: string }[]).map((v) => v.id);
  assert.equal(listed, ["v4", "v3"]);
  const versions = (await keys(ctx.etcd, "versions/")).map((kv) => JSON.parse(text(kv.value)) as VersionRecord);
  assert.equal(
    versions.map((v) => v.id),
    ["v3", "v4"],
  );
  const named = new Set(versions.flatMap((v) => Object.values(v.files)));
  const blobs = await keys(ctx.etcd, "blobs/");
  assert.equal(blobs.map((kv) => kv.key.split("/").pop()).sort(), [...named].sort(), "etcd holds exactly the blobs of the kept versions");
  const chunks = new Set(blobs.flatMap((kv) => (JSON.parse(text(kv.value)) as { chunks: string[] }).chunks));
  assert.equal((await keys(ctx.etcd, "chunks/")).map((kv) => kv.key.split("/").pop()).sort(), [...chunks].sort(), "and exactly their chunks");

  // the history before the last deploy is gone: a read at an old revision is refused
  const old = await fetch(`${ctx.etcd.endpoint}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: btoa(`/${PREFIX}/active`), revision: "2" }) });
  assert.match(await old.text(), /required revision has been compacted/);

  // after compaction, the other host still follows a deploy, and a rollback to a kept version
  assert.is((await deploy(node.url, versionDir("v5"))).status, 201);
  assert.ok(await eventually(async () => (await get(bun.url, "/greet-proc")).text === "v5"), "bun follows to v5 after compaction");
  const back = await api(bun.url, "POST", "rollback", {});
  assert.equal([back.status, back.json.version], [200, "v4"], back.text);
  assert.ok(await eventually(async () => (await get(node.url, "/greet")).text === "v4"), "node follows bun's rollback");

  // no host keeps its copy (run/<id>) of a version the store no longer holds, the follower neither,
  // but v1's: steady, the same in every version, still runs from it (and compiles from it again)
  const copies = () => readdirSync(join(ctx.cache, "run")).flatMap((host) => readdirSync(join(ctx.cache, "run", host)).map((id) => `${host.slice(0, 8)}/${id}`));
  assert.ok(await eventually(() => copies().every((c) => /\/v[145]$/.test(c)), 5000), copies().join(" "));
  assert.is(copies().filter((c) => c.endsWith("/v1")).length, 2, copies().join(" "));
  assert.is(readdirSync(join(ctx.cache, "run")).length, 2, "one folder per host");

  const gone = await api(node.url, "POST", "rollback", { version: "v2" });
  assert.is(gone.status, 404, gone.text);
  assert.match(gone.json.error!.message, /no version v2 in the store: it was never kept, or retention removed it/);
});

test("two hosts deploying at once, each pruning after its deploy, never leave a kept version without its files", async (ctx) => {
  const [node, bun] = ctx.hosts as [ClusterHost, ClusterHost];
  // (a sanity check on real processes: the deterministic race is the sweep test below; a third
  // round or more met nothing the first two do not)
  for (let round = 0; round < 2; round++) {
    const answers = await Promise.all([deploy(node.url, versionDir(`n${round}`)), deploy(bun.url, versionDir(`b${round}`))]);
    // one switch wins; the other changes nothing (409), or lands after it
    for (const a of answers) assert.ok(a.status === 201 || a.status === 409, a.text);
    assert.ok(
      answers.some((a) => a.status === 201),
      answers.map((a) => a.text).join(" "),
    );
  }
  const blobs = new Set((await keys(ctx.etcd, "blobs/")).map((kv) => kv.key.split("/").pop()));
  const chunks = new Set((await keys(ctx.etcd, "chunks/")).map((kv) => kv.key.split("/").pop()));
  for (const kv of await keys(ctx.etcd, "versions/")) {
    for (const h of Object.values((JSON.parse(text(kv.value)) as VersionRecord).files)) {
      assert.ok(blobs.has(h), `blob ${h} of ${kv.key}`);
      const blob = (await keys(ctx.etcd, `blobs/${h}`))[0]!;
      for (const c of (JSON.parse(text(blob.value)) as { chunks: string[] }).chunks) assert.ok(chunks.has(c), `chunk ${c} of ${kv.key}`);
    }
  }
  // both hosts serve the active deployment, and can roll back to the kept one before it
  const active = (await api(node.url, "GET", "versions")).json.active as { stable: string };
  assert.ok(await eventually(async () => (await get(bun.url, "/greet")).version === active.stable), "bun serves the active version");
  const back = await api(bun.url, "POST", "rollback", {});
  assert.is(back.status, 200, back.text);
});

test("a sweep on one host, racing an upload on another that wrote its blob but not yet its version, leaves the blob; once the version is kept, it stays", async (ctx) => {
  const target = parseEtcdUrl(`etcd://${ctx.etcd.member}/lanes/race`);
  const uploader = await EtcdStore.open(target);
  const bytes = new TextEncoder().encode("a bundle two uploads share");
  const hash = await sha256Hex(bytes);
  // an earlier upload left the blob (its deploy failed): no version names it, a sweep removes it
  await uploader.putBlob(bytes);
  let race: (() => Promise<void>) | undefined = async () => {
    // the upload begins after the sweep read the uploads under way: it finds the blob there and does not write it again
    await uploader.retention.hold("v9", [hash]);
    await uploader.putBlob(bytes);
  };
  class Racing extends EtcdClient {
    override async list(prefix: string, o?: { limit?: number; descend?: boolean; keysOnly?: boolean }): Promise<KeyValue[]> {
      const now = race;
      race = undefined;
      if (now && prefix.endsWith("/versions/")) await now();
      return super.list(prefix, o);
    }
  }
  const client = new Racing(ctx.etcd.endpoint, [ctx.etcd.endpoint]);
  const sweeper = new EtcdRetention(client, target.prefix, () => client.grant(10));
  try {
    const swept = await sweeper.sweep();
    assert.is(swept.removed, 0);
    assert.match(String(swept.stopped), /an upload began meanwhile/);
    // its version is whole, and a sweep now keeps what it names
    await uploader.putVersion({
      id: "v9",
      createdAt: new Date().toISOString(),
      tag: null,
      message: null,
      author: "ci",
      files: { "a.js": hash },
      digest: await contentDigest({ "a.js": hash }),
    });
    await uploader.retention.release("v9");
    assert.is((await sweeper.sweep()).removed, 0);
    assert.equal(await uploader.getBlob(hash), bytes);
    // and with no version naming it, it goes
    await uploader.retention.removeVersion("v9");
    const last = await sweeper.sweep();
    assert.equal([last.removed, last.stopped], [1, undefined]);
    assert.is((await keys(ctx.etcd, "blobs/", target.prefix)).length, 0);
  } finally {
    await uploader.close();
  }
});

test("a switch to a version another host's retention removed meanwhile (after this host read it, for a rollback) is a 404 naming it, and changes nothing", async (ctx) => {
  const store = await EtcdStore.open(parseEtcdUrl(`etcd://${ctx.etcd.member}/lanes/gone`));
  try {
    const bytes = new TextEncoder().encode("export default {}");
    const files = { "a.js": await store.putBlob(bytes) };
    const at = new Date().toISOString();
    for (const id of ["v1", "v2"]) await store.putVersion({ id, createdAt: at, tag: null, message: null, author: "ci", files, digest: await contentDigest(files) });
    const d = await store.activate({ createdAt: at, author: "ci", reason: "initial", message: null, stable: "v1", canary: null }, 0);
    await store.retention.removeVersion("v2");
    const e = (await store.activate({ createdAt: at, author: "ci", reason: "rollback", message: null, stable: "v2", canary: null }, d.revision).catch((x: unknown) => x)) as {
      code?: string;
      message?: string;
    };
    assert.is(e.code, "not_found", e.message);
    assert.match(String(e.message), /version v2 is no longer in the store .*: retention removed it meanwhile \(older than the newest --keep-versions\); nothing was changed/);
    assert.is((await store.active())?.stable, "v1");
  } finally {
    await store.close();
  }
});

test("a prune that began from a deployment another host has replaced since (a rollback to an old version) keeps the version the store now serves", async (ctx) => {
  const target = parseEtcdUrl(`etcd://${ctx.etcd.member}/lanes/stale`);
  const [mine, other] = [await EtcdStore.open(target), await EtcdStore.open(target)];
  try {
    const at = new Date().toISOString();
    let d: Deployment | undefined;
    for (const id of ["v1", "v2", "v3", "v4"]) {
      const files = { "a.js": await mine.putBlob(new TextEncoder().encode(`export default "${id}"`)) };
      await mine.putVersion({ id, createdAt: at, tag: null, message: null, author: "ci", files, digest: await contentDigest(files) });
      d = await mine.activate({ createdAt: at, author: "ci", reason: "deploy", message: null, stable: id, canary: null }, d?.revision ?? 0);
    }
    // this host deployed v4 (or started on it); before its prune reads the store, another host rolls back to v1
    await other.activate({ createdAt: at, author: "ops", reason: "rollback", message: null, stable: "v1", canary: null }, d!.revision);
    const pruned = await prune(mine, d!, 1);
    assert.not.ok(pruned.versions.includes("v1"), `removed ${pruned.versions.join(", ")}`);
    assert.ok(await other.getVersion("v1"), "the active deployment's version is kept");
    assert.is(new TextDecoder().decode(await other.getBlob((await other.getVersion("v1"))!.files["a.js"]!)), `export default "v1"`);
    assert.ok(await other.getVersion("v4"), "and the one its rollback goes back to");
  } finally {
    await mine.close();
    await other.close();
  }
});

test.run();
