/**
 * A deployment another host switched to that does not load on this one (its deploy did not wait
 * for it: --cluster-wait 0): this host keeps serving the one before, and its health says so. And
 * a host stopped while its deploy waits for another host to load the version.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { eventually, health, startClusterHost, type ClusterHost } from "./helpers/cluster.ts";
import { api, deploy, get, tokenFile, versionDir } from "./helpers/deploy.ts";
import { startEtcd, type Etcd } from "./helpers/etcd.ts";

interface Ctx {
  etcd: Etcd;
  hosts: ClusterHost[];
  store: string;
  extra: string[];
}
const test = suite<Ctx>("a deployment that does not load on one host of a cluster");

test.before(async (ctx) => {
  ctx.hosts = [];
  ctx.etcd = await startEtcd();
  const store = (ctx.store = `etcd://${ctx.etcd.member}/lanes/follow`);
  const extra = (ctx.extra = ["--admin-token-file", tokenFile(), "--log", "json"]);
  ctx.hosts.push(await startClusterHost("node", versionDir("v1"), store, [...extra, "--cluster-wait", "0"]));
  ctx.hosts.push(await startClusterHost("bun", versionDir("v1"), store, extra));
});

test.after(async (ctx) => {
  await Promise.all((ctx.hosts ?? []).map((h) => h.stop()));
  await ctx.etcd?.close();
});

test("the host it does not load on keeps serving the deployment before, and its health is degraded naming the deployment and why", async (ctx) => {
  const [node, bun] = ctx.hosts as [ClusterHost, ClusterHost];
  const dir = versionDir("v2");
  // loads on Node, not on Bun, where it fails after the deploy switched without waiting (--cluster-wait 0)
  writeFileSync(
    join(dir, "greet.ts"),
    `if (typeof (globalThis as { Bun?: unknown }).Bun !== "undefined") {\n  await new Promise((r) => setTimeout(r, 1500));\n  throw new Error("v2 does not load on Bun");\n}\nexport default { fetch: () => new Response("v2") };\n`,
  );
  const r = await deploy(node.url, dir);
  assert.is(r.status, 201, r.text);
  assert.is((await get(node.url, "/greet")).text, "v2");
  assert.ok(await eventually(async () => (await health(bun.url)).body.status !== "ok", 10_000), `bun's health: ${JSON.stringify((await health(bun.url)).body)}`);
  const { status, body } = await health(bun.url);
  assert.is(status, 200);
  assert.is(body.status, "degraded");
  assert.ok(/deployment 2 did not load on this host \(.*v2 does not load on Bun.*\): it serves deployment 1 \(v1 100%\)/.test(String(body.reason)), String(body.reason));
  assert.is((await get(bun.url, "/greet")).text, "v1");
  assert.is((await health(node.url)).body.status, "ok");
});

test("a host stopped while its deploy waits for another host to load the version answers it 503 before its shutdown ends, and nothing changes", async (ctx) => {
  const [node, bun] = ctx.hosts as [ClusterHost, ClusterHost];
  const before = (await api(node.url, "GET", "versions")).json.active as { revision: number; stable: string };
  const deployer = await startClusterHost("node", versionDir("v1"), ctx.store, [...ctx.extra, "--cluster-wait", "60"]);
  ctx.hosts.push(deployer);
  const dir = versionDir("v3");
  // loads at once on Node; on Bun its load takes a minute, which the deploy would wait out (--cluster-wait 60)
  writeFileSync(
    join(dir, "greet.ts"),
    `if (typeof (globalThis as { Bun?: unknown }).Bun !== "undefined") await new Promise((r) => setTimeout(r, 60_000));\nexport default { fetch: () => new Response("v3") };\n`,
  );
  const deploying = deploy(deployer.url, dir);
  assert.ok(
    await eventually(() => /the switch waits up to 60 s for [12] other host\(s\) to load it/.test(deployer.output()), 30_000),
    `the deploy never said it waits for the other hosts:\n${deployer.output()}`,
  );
  deployer.kill("SIGTERM");
  const r = await deploying;
  assert.is(r.status, 503, r.text);
  assert.match(r.text, /the host is stopping: nothing was changed: the deploy of version v\d+ was stopped while it waited for the other hosts to load its version/);
  assert.is((await deployer.exited).code, 0);
  const after = (await api(node.url, "GET", "versions")).json.active as { revision: number; stable: string };
  assert.equal(after, before, "the store's active deployment did not change");
  assert.is((await get(node.url, "/greet")).text, "v2");
  assert.is((await get(bun.url, "/greet")).text, "v1");
});

test.run();
