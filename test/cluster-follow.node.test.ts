/**
 * A deployment another host switched to that does not load on this one (its deploy did not wait
 * for it: --cluster-wait 0): this host keeps serving the one before, and its health says so.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { eventually, health, startClusterHost, type ClusterHost } from "./helpers/cluster.ts";
import { deploy, get, tokenFile, versionDir } from "./helpers/deploy.ts";
import { startEtcd, type Etcd } from "./helpers/etcd.ts";

interface Ctx {
  etcd: Etcd;
  hosts: ClusterHost[];
}
const test = suite<Ctx>("a deployment that does not load on one host of a cluster");

test.before(async (ctx) => {
  ctx.hosts = [];
  ctx.etcd = await startEtcd();
  const store = `etcd://${ctx.etcd.member}/lanes/follow`;
  const extra = ["--admin-token-file", tokenFile(), "--log", "json"];
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

test.run();
