/**
 * --auto-rollback on a cluster: the host whose traffic shows the new version is worse rolls back
 * for every host, through etcd; when etcd is away at that moment, it tries again once etcd is back.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { eventually, health, startClusterHost, type ClusterHost } from "./helpers/cluster.ts";
import { deploy, get, tokenFile, versionDir } from "./helpers/deploy.ts";
import { startEtcd, type Etcd } from "./helpers/etcd.ts";

interface Ctx {
  etcd: Etcd;
  hosts: ClusterHost[];
}
const test = suite<Ctx>("auto-rollback on hosts sharing etcd");

test.before(async (ctx) => {
  ctx.hosts = [];
  ctx.etcd = await startEtcd();
  const store = `etcd://${ctx.etcd.member}/lanes/auto`;
  const extra = ["--admin-token-file", tokenFile(), "--log", "json", "--cluster-wait", "5"];
  ctx.hosts.push(await startClusterHost("node", versionDir("v1"), store, extra));
  ctx.hosts.push(await startClusterHost("node", versionDir("v1"), store, extra));
});

test.after(async (ctx) => {
  await Promise.all((ctx.hosts ?? []).map((h) => h.stop()));
  await ctx.etcd?.close();
});

test("an auto-rollback decided while etcd is stopped happens once etcd is back, on every host", async (ctx) => {
  const [a, b] = ctx.hosts as [ClusterHost, ClusterHost];
  const r = await deploy(a.url, versionDir("v2", "fails"), { percent: 50, autoRollback: true });
  assert.is(r.status, 201, r.text);
  assert.ok(await eventually(async () => (await health(b.url)).body.deployment !== undefined && JSON.stringify((await health(b.url)).body.deployment).includes("v2 50%")));

  await ctx.etcd.stop();
  // enough requests for the verdict (50 on the new version, all 500): it is given while etcd is away
  for (let i = 0; i < 200; i++) await get(a.url, "/greet");
  assert.ok(await eventually(() => /auto-rollback of v2 did not happen/.test(a.output()), 5_000), a.output());
  await ctx.etcd.start();

  const stableOnly = async (h: ClusterHost) => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => get(h.url, "/greet")));
    return answers.every((s) => s.status === 200 && s.text === "v1");
  };
  assert.ok(await eventually(() => stableOnly(a), 10_000), `the host that judged rolls back once etcd is back: ${JSON.stringify((await health(a.url)).body)}`);
  assert.ok(await eventually(() => stableOnly(b), 5_000), "the other host follows the rollback");
  for (const h of ctx.hosts) assert.equal((await health(h.url)).body.deployment, { revision: 3, serving: "v1 100%" });
});

test.run();
