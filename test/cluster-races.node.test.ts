/**
 * Hosts of one etcd store racing each other: started at the same moment on an empty store,
 * switching to the same version at once, killed or cut off from etcd in the middle of a deploy.
 * Races are met with barriers and repetitions, not sleeps: as many as it took to see each race
 * lost before its fix (both were seen in the first round).
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EtcdClient, text } from "../runtime/deploy/etcd-client.ts";
import { EtcdStore } from "../runtime/deploy/etcd-store.ts";
import { parseEtcdUrl } from "../runtime/deploy/etcd-url.ts";
import { contentDigest, type Deployment, type VersionRecord } from "../runtime/deploy/model.ts";
import { prune } from "../runtime/deploy/retention.ts";
import type { StagedVersion } from "../runtime/deploy/store.ts";
import { staging } from "../runtime/host/prepared.ts";
import { eventually, startClusterHost, type ClusterHost } from "./helpers/cluster.ts";
import { api, deploy, get, tokenFile, versionDir } from "./helpers/deploy.ts";
import { startEtcdOrFail, type Etcd } from "./helpers/etcd.ts";

interface Ctx {
  etcd: Etcd;
  tokens: string;
}
const test = suite<Ctx>("hosts of one etcd store racing each other");

test.before(async (ctx) => {
  ctx.etcd = await startEtcdOrFail();
  ctx.tokens = tokenFile();
});

test.after(async (ctx) => {
  await ctx.etcd?.close();
});

const client = (ctx: Ctx) => new EtcdClient(ctx.etcd.endpoint, [ctx.etcd.endpoint]);
const records = async <T>(ctx: Ctx, prefix: string): Promise<T[]> => (await client(ctx).list(prefix)).map((kv) => JSON.parse(text(kv.value)) as T);

test("two hosts opening an empty prefix at the same moment both take it as a store (never 'not a lanes store')", async (ctx) => {
  for (let round = 0; round < 10; round++) {
    const target = parseEtcdUrl(`etcd://${ctx.etcd.member}/lanes/claim-${round}`);
    const opened = await Promise.allSettled([EtcdStore.open(target), EtcdStore.open(target), EtcdStore.open(target)]);
    for (const o of opened) if (o.status === "fulfilled") await o.value.close();
    const refused = opened.flatMap((o) => (o.status === "rejected" ? [String((o.reason as Error).message)] : []));
    assert.equal(refused, [], `round ${round}`);
  }
});

test("a store holding more keys than one look at the prefix reads is opened as the store it is", async (ctx) => {
  const target = parseEtcdUrl(`etcd://${ctx.etcd.member}/lanes/big`);
  const first = await EtcdStore.open(target);
  for (let i = 0; i < 120; i++) await first.putBlob(new TextEncoder().encode(`blob ${i}`));
  await first.close();
  const again = await EtcdStore.open(target);
  await again.close();
});

test("two hosts started at the same moment on an empty etcd: the store keeps one first version, v1, and both serve it", async (ctx) => {
  const extra = ["--admin-token-file", ctx.tokens, "--log", "json"];
  const prefix = "/lanes/first";
  const store = `etcd://${ctx.etcd.member}${prefix}`;
  const hosts: ClusterHost[] = [];
  try {
    const started = await Promise.allSettled([startClusterHost("node", versionDir("from-a"), store, extra), startClusterHost("node", versionDir("from-b"), store, extra)]);
    for (const s of started) if (s.status === "fulfilled") hosts.push(s.value);
    assert.is(hosts.length, 2, started.map((s) => (s.status === "rejected" ? String(s.reason) : "")).join("\n"));
    const ready = async (h: ClusterHost) => (await fetch(`${h.url}/_lanes/ready`)).status === 200;
    assert.ok(await eventually(async () => (await ready(hosts[0]!)) && (await ready(hosts[1]!)), 30_000), `both ready\n${hosts.map((h) => h.output()).join("\n")}`);
    const versions = await records<VersionRecord>(ctx, `${prefix}/versions/`);
    const active = (await records<Deployment>(ctx, `${prefix}/active`))[0]!;
    assert.equal(
      versions.map((v) => v.id),
      ["v1"],
      `the store keeps ${versions.map((v) => v.id).join(", ")}; active ${JSON.stringify(active)}`,
    );
    assert.is(active.stable, "v1");
    const answers = await Promise.all(hosts.map((h) => get(h.url, "/greet")));
    assert.equal(
      answers.map((a) => [a.status, a.version]),
      [
        [200, "v1"],
        [200, "v1"],
      ],
    );
    assert.is(answers[0]!.text, answers[1]!.text, "both serve the same files");
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
  }
});

test("two stagings of one version at once (two hosts rolling back to it): ending one leaves the other's notice in the store", async (ctx) => {
  const target = parseEtcdUrl(`etcd://${ctx.etcd.member}/lanes/stage-twice`);
  const [a, b, c] = [await EtcdStore.open(target), await EtcdStore.open(target), await EtcdStore.open(target)];
  try {
    const files = { "a.js": await a.putBlob(new TextEncoder().encode("export default {}")) };
    const [sa, sb] = [staging(a, new Map(), "v1")!, staging(b, new Map(), "v1")!];
    await Promise.all([sa.stage(new Map(), files), sb.stage(new Map(), files)]);
    const notices = async () => (await records<StagedVersion>(ctx, `${target.prefix}/staged/`)).map((v) => v.stage).sort();
    assert.equal(await notices(), [sa.stageId, sb.stageId].sort(), "both stagings are told to the other hosts");
    await sa.end();
    assert.equal(await notices(), [sb.stageId], "b's staging is still told (a host starting now loads it)");
    // and a host that reads the store now (started, or back after etcd was away) is told b's
    const seen: StagedVersion[] = [];
    c.follow(
      () => {},
      () => {},
      (v) => seen.push(v),
    );
    assert.ok(await eventually(() => seen.some((v) => v.stage === sb.stageId)), JSON.stringify(seen));
    await sb.end();
    assert.equal(await notices(), []);
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});

test("a staging that ends while etcd is away is told no more once etcd is back (its notice is not left on the host's lease)", async (ctx) => {
  const target = parseEtcdUrl(`etcd://${ctx.etcd.member}/lanes/stage-away`);
  const store = await EtcdStore.open(target);
  try {
    const s = staging(store, new Map(), "v1")!;
    await s.stage(new Map(), {});
    // the host's record keeps its lease alive, as a running host's does
    await store.announce({
      id: "h",
      url: "http://127.0.0.1:9",
      runtime: "node",
      runtimeVersion: "0",
      startedAt: "",
      revision: 1,
      serving: "v1 100%",
      switchedAt: "",
      switchMs: null,
      loading: null,
      failed: null,
      prepared: null,
    });
    assert.is((await records(ctx, `${target.prefix}/staged/`)).length, 1);
    await ctx.etcd.stop();
    await s.end();
    await ctx.etcd.start();
    assert.ok(await eventually(async () => (await records(ctx, `${target.prefix}/staged/`)).length === 0, 20_000), "the notice is gone");
  } finally {
    await store.close();
  }
});

test("two hosts rolling back to the same version at once: one switches without waiting out --cluster-wait, the other gets 409, every host serves it", async (ctx) => {
  const store = `etcd://${ctx.etcd.member}/lanes/same-rollback`;
  // a wait far longer than a rollback takes here: a host waiting it out shows
  const waitS = 40;
  const extra = ["--admin-token-file", ctx.tokens, "--log", "json", "--cluster-wait", String(waitS)];
  const hosts: ClusterHost[] = [];
  try {
    hosts.push(await startClusterHost("node", versionDir("one"), store, extra));
    hosts.push(...(await Promise.all([startClusterHost("node", versionDir("unused"), store, extra), startClusterHost("node", versionDir("unused"), store, extra)])));
    const serve = async (marker: string) => (await Promise.all(hosts.map((h) => get(h.url, "/greet")))).every((s) => s.text === marker);
    assert.ok(await eventually(() => serve("one"), 30_000), "all serve v1");
    assert.is((await deploy(hosts[0]!.url, versionDir("two"))).status, 201);
    assert.ok(await eventually(() => serve("two"), 30_000), "all serve v2: no host runs v1 any more");
    const t0 = Date.now();
    const answers = await Promise.all(
      [hosts[1]!, hosts[2]!].map(async (h) => {
        const r = await api(h.url, "POST", "rollback", { version: "v1" });
        return { ...r, ms: Date.now() - t0 };
      }),
    );
    assert.equal(answers.map((a) => a.status).sort(), [200, 409], answers.map((a) => a.text).join("\n"));
    const winner = answers.find((a) => a.status === 200)!;
    assert.ok(winner.ms < (waitS * 1000) / 2, `the rollback answered after ${winner.ms} ms (--cluster-wait ${waitS} s)`);
    const loser = answers.find((a) => a.status === 409)!;
    assert.match(loser.json.error?.message ?? "", /the active deployment changed meanwhile, on this or another host: deployment 3 \(v1 100%, rollback by ci\) became active first/);
    assert.ok(await eventually(() => serve("one"), 30_000), "all serve v1 again");
    assert.equal(await records(ctx, "/lanes/same-rollback/staged/"), [], "no staging is left told");
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
  }
});

test("a deploy whose version is written but not yet active keeps it through another host's prune: it answers 409 once another deploy won, never 404", async (ctx) => {
  const target = parseEtcdUrl(`etcd://${ctx.etcd.member}/lanes/prune-upload`);
  const [a, b] = [await EtcdStore.open(target), await EtcdStore.open(target)];
  try {
    const at = new Date().toISOString();
    const keep = async (s: EtcdStore, marker: string) => {
      const id = await s.nextVersionId();
      const files = { "a.js": await s.putBlob(new TextEncoder().encode(`export default "${marker}"`)) };
      await s.putVersion({ id, createdAt: at, tag: null, message: null, author: "ci", files, digest: await contentDigest(files) });
      return id;
    };
    const deployment = (stable: string) => ({ createdAt: at, author: "ci", reason: "deploy" as const, message: null, stable, canary: null });
    const d1 = await a.activate(deployment(await keep(a, "one")), 0);
    // a deploys: it holds its upload (heldUpload), writes v2 and waits for the other hosts to load it
    await a.retention.hold("v2", []);
    assert.is(await keep(a, "a's"), "v2");
    // meanwhile b deploys v3, switches first and prunes to --keep-versions 1
    const d2 = await b.activate(deployment(await keep(b, "b's")), d1.revision);
    const pruned = await prune(b, d2, 1);
    assert.not.ok(pruned.versions.includes("v2"), `b's prune removed ${pruned.versions.join(", ")}`);
    const e = (await a.activate(deployment("v2"), d1.revision).catch((x: unknown) => x)) as { code?: string; message?: string };
    assert.is(e.code, "conflict", e.message);
    assert.match(String(e.message), /deployment 2 \(v3 100%, deploy by ci\) became active first/);
    await a.retention.release("v2");
    // once a's upload is over, the next prune removes its version like any other past the limit
    assert.ok((await prune(b, d2, 1)).versions.includes("v2"));
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test.run();
