/**
 * Hosts of one etcd store racing each other: started at the same moment on an empty store,
 * switching to the same version at once, killed or cut off from etcd in the middle of a deploy.
 * Races are met with barriers and repetitions, not sleeps.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EtcdClient, text } from "../runtime/deploy/etcd-client.ts";
import { EtcdStore } from "../runtime/deploy/etcd-store.ts";
import { parseEtcdUrl } from "../runtime/deploy/etcd-url.ts";
import type { Deployment, VersionRecord } from "../runtime/deploy/model.ts";
import { eventually, startClusterHost, type ClusterHost } from "./helpers/cluster.ts";
import { get, tokenFile, versionDir } from "./helpers/deploy.ts";
import { startEtcd, type Etcd } from "./helpers/etcd.ts";

interface Ctx {
  etcd: Etcd;
  tokens: string;
}
const test = suite<Ctx>("hosts of one etcd store racing each other");

test.before(async (ctx) => {
  try {
    ctx.etcd = await startEtcd();
  } catch (e) {
    console.error(`\n  FAIL: ${(e as Error).message}\n`);
    process.exitCode = 1;
    throw e;
  }
  ctx.tokens = tokenFile();
});

test.after(async (ctx) => {
  await ctx.etcd?.close();
});

const client = (ctx: Ctx) => new EtcdClient(ctx.etcd.endpoint, [ctx.etcd.endpoint]);
const records = async <T>(ctx: Ctx, prefix: string): Promise<T[]> => (await client(ctx).list(prefix)).map((kv) => JSON.parse(text(kv.value)) as T);

test("two hosts opening an empty prefix at the same moment both take it as a store (never 'not a lanes store')", async (ctx) => {
  for (let round = 0; round < 30; round++) {
    const target = parseEtcdUrl(`etcd://${ctx.etcd.member}/lanes/claim-${round}`);
    const opened = await Promise.allSettled([EtcdStore.open(target), EtcdStore.open(target), EtcdStore.open(target)]);
    for (const o of opened) if (o.status === "fulfilled") await o.value.close();
    const refused = opened.flatMap((o) => (o.status === "rejected" ? [String((o.reason as Error).message)] : []));
    assert.equal(refused, [], `round ${round}`);
  }
});

test("two hosts started at the same moment on an empty etcd: the store keeps one first version, v1, and both serve it", async (ctx) => {
  const extra = ["--admin-token-file", ctx.tokens, "--log", "json"];
  for (let round = 0; round < 2; round++) {
    const prefix = `/lanes/first-${round}`;
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
        `round ${round}: the store keeps ${versions.map((v) => v.id).join(", ")}; active ${JSON.stringify(active)}`,
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
  }
});

test.run();
