/**
 * etcd's space quota (--quota-backend-bytes; 2 GB by default): deploys that keep every version
 * reach it, and etcd then refuses every write. The deploy that meets it answers 507 naming
 * etcd's space, nothing changes, health says degraded and why, the host serves on; a restart with
 * a lower --keep-versions prunes and compacts, so a defragment and a disarmed alarm bring deploys
 * back. With retention the same deploys never reach the quota.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { eventually, health, startClusterHost, type ClusterHost } from "./helpers/cluster.ts";
import { api, deploy, get, tokenFile, versionDir } from "./helpers/deploy.ts";
import { startEtcd, type Etcd } from "./helpers/etcd.ts";

// A quota as small as the assertions allow: each deploy costs a compile, an upload and a trial
// start, and the CPU went with the bytes (50 deploys of 500 KB against 8 MB took 59 s of CPU).
// Kept at --keep-versions 1, etcd's database settles at some 0.75 MB here, under half of it.
const QUOTA = 2 * 1024 * 1024;
/** What a version adds to etcd (its bundle is mostly random hex, no chunk shared with another). */
const VERSION_BYTES = 128 * 1024;
const test = suite<{ etcd: Etcd[]; hosts: ClusterHost[] }>("etcd's space quota");

test.before((ctx) => {
  ctx.etcd = [];
  ctx.hosts = [];
});

test.after(async (ctx) => {
  await Promise.all(ctx.hosts.map((h) => h.stop()));
  await Promise.all(ctx.etcd.map((e) => e.close()));
});

/** A version of one function whose bundle is about VERSION_BYTES of its own (random: no chunk shared with another version). */
function bigVersion(marker: string): string {
  const dir = versionDir(marker, "ok", (m) => {
    m.functions = { greet: { entry: "greet.ts", lane: "isolate" } };
  });
  const pad = randomBytes(VERSION_BYTES / 2).toString("hex");
  writeFileSync(join(dir, "greet.ts"), `const pad = "${pad}";\nexport default { fetch: () => new Response(pad.length > 0 ? ${JSON.stringify(marker)} : "") };\n`);
  return dir;
}

async function etcdCall(etcd: Etcd, path: string, body: object): Promise<Record<string, unknown>> {
  return (await (await fetch(`${etcd.endpoint}${path}`, { method: "POST", body: JSON.stringify(body) })).json()) as Record<string, unknown>;
}

/** What an operator does once space is free: `etcdctl defrag`, `etcdctl alarm disarm`. */
async function disarm(etcd: Etcd): Promise<void> {
  await etcdCall(etcd, "/v3/maintenance/defragment", {});
  const { header } = (await etcdCall(etcd, "/v3/maintenance/status", {})) as { header: { member_id: string } };
  await etcdCall(etcd, "/v3/maintenance/alarm", { action: "DEACTIVATE", memberID: header.member_id, alarm: "NOSPACE" });
}

async function start(ctx: { etcd: Etcd[]; hosts: ClusterHost[] }, etcd: Etcd, keep: string[]): Promise<ClusterHost> {
  const host = await startClusterHost("node", versionDir("v1"), `etcd://${etcd.member}/lanes/quota`, ["--admin-token-file", tokenFile(), "--log", "json", ...keep]);
  ctx.hosts.push(host);
  return host;
}

test("keeping every version, a deploy meets the quota: 507 naming etcd's space, nothing changed, health degraded, the host serves on; a restart with a lower --keep-versions frees it", async (ctx) => {
  const etcd = await startEtcd(["--quota-backend-bytes", String(QUOTA)]);
  ctx.etcd.push(etcd);
  const host = await start(ctx, etcd, ["--keep-versions", "1000"]);
  let served = "v1";
  let refused: Awaited<ReturnType<typeof deploy>> | undefined;
  for (let i = 2; i < 40 && !refused; i++) {
    const r = await deploy(host.url, bigVersion(`v${i}`));
    if (r.status === 201) served = `v${i}`;
    else refused = r;
  }
  assert.ok(refused, "the quota was met");
  assert.is(refused.status, 507, refused.text);
  assert.is(refused.json.error!.code, "store_full");
  assert.match(
    refused.json.error!.message,
    /^nothing was changed: the deploy store etcd:\/\/127\.0\.0\.1:\d+\/lanes\/quota is out of space \(etcd 127\.0\.0\.1:\d+: etcdserver: mvcc: database space exceeded\): etcd's database reached its quota \(--quota-backend-bytes\).*; this host keeps serving deployment \d+ \(v\d+ 100%\)/,
  );
  const h = await health(host.url);
  assert.equal([h.status, h.body.status], [200, "degraded"]);
  assert.match(String(h.body.reason), /the deploy store etcd:\/\/\S+ is out of space/);
  assert.is((await get(host.url, "/greet")).text, served, "the active deployment serves on");
  assert.is((await api(host.url, "GET", "versions")).status, 200);

  // once the operator disarms the alarm, health says so without waiting for a write of this host
  await disarm(etcd);
  assert.ok(await eventually(async () => (await health(host.url)).body.status === "ok", 6000), JSON.stringify((await health(host.url)).body));

  // the operator's way out: restart with a lower limit (it prunes and compacts at start), defragment, disarm
  await host.stop();
  const again = await start(ctx, etcd, ["--keep-versions", "2"]);
  assert.is((await get(again.url, "/greet")).text, served);
  const pruned = async () => ((await api(again.url, "GET", "versions")).json.versions as unknown[]).length <= 2;
  for (let i = 0; i < 100 && !(await pruned()); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(await pruned(), "pruned at start");
  await disarm(etcd);
  const ok = await deploy(again.url, bigVersion("after"));
  assert.is(ok.status, 201, ok.text);
  assert.is((await get(again.url, "/greet")).text, "after");
  assert.is((await health(again.url)).body.status, "ok");
});

test("with --keep-versions 1, three times the quota in deploys never meets it", async (ctx) => {
  const etcd = await startEtcd(["--quota-backend-bytes", String(QUOTA)]);
  ctx.etcd.push(etcd);
  const host = await start(ctx, etcd, ["--keep-versions", "1"]);
  const last = 1 + Math.ceil((3 * QUOTA) / VERSION_BYTES);
  for (let i = 2; i <= last; i++) {
    const r = await deploy(host.url, bigVersion(`v${i}`));
    assert.is(r.status, 201, `deploy ${i}: ${r.text}`);
  }
  assert.is((await get(host.url, "/greet")).text, `v${last}`);
  const { dbSize } = (await etcdCall(etcd, "/v3/maintenance/status", {})) as { dbSize: string };
  assert.ok(Number(dbSize) < QUOTA / 2, `etcd's database stays small: ${dbSize} bytes`);
});

test.run();
