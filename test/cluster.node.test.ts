/**
 * lanes hosts as a cluster on etcd: a real etcd (started here, stopped and restarted by its
 * pid) and three hosts on it, one per runtime (Node, Bun, Deno), each `lanes start --store`
 * in its own process. The suite starts all three runtimes itself, so it runs once, from Node.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { Buffer } from "node:buffer";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EtcdStore } from "../runtime/deploy/etcd-store.ts";
import { staging } from "../runtime/host/prepared.ts";
import { CHUNK_BYTES } from "../runtime/deploy/etcd-blobs.ts";
import { parseEtcdUrl } from "../runtime/deploy/etcd-url.ts";
import type { HostRecord } from "../runtime/deploy/model.ts";
import { eventually, health, hostRecords, startClusterHost, type ClusterHost } from "./helpers/cluster.ts";
import { deploy, get, PACE_MS, runCli, runCliWithInput, scratchDir, steadyLoad, tokenFile, versionDir as fullVersionDir, type Sample } from "./helpers/deploy.ts";
import { fixtures } from "./helpers/host.ts";
import { freePort, startEtcdOrFail, type Etcd } from "./helpers/etcd.ts";
import { lanesCommand } from "./helpers/cluster.ts";
import { spawnProcess } from "./helpers/spawn.ts";
import { hostEnvironment } from "../adapters/env.ts";
import { withClusterMetrics } from "../runtime/host/cluster-health.ts";
import type { ClusterStatus } from "../runtime/host/cluster-member.ts";

interface Ctx {
  etcd: Etcd;
  store: string;
  tokens: string;
  hosts: ClusterHost[];
  late?: ClusterHost;
  ownKeys?: [ClusterHost, ClusterHost];
}
const test = suite<Ctx>("lanes hosts as a cluster on etcd");

/**
 * A version without `steady` (an isolate no check here asks for, started on every host at each
 * switch), and without `greet-proc` (a process-lane child tried on every host at each switch,
 * and a spare kept for it) unless `proc`: only the versions whose process-lane answers or
 * switch times are checked keep it (v1, v2, and the race winners the rollback goes back to).
 */
function versionDir(marker: string, proc = false): string {
  return fullVersionDir(marker, "ok", (m) => {
    const functions = m.functions as Record<string, unknown>;
    delete functions.steady;
    if (!proc) delete functions["greet-proc"];
  });
}
/** Every host's `--cluster-wait` (default 10 s): the slow-on-Deno test below waits it out; a deploy here loads everywhere well within it. */
const CLUSTER_WAIT_S = 5;

test.before(async (ctx) => {
  ctx.hosts = [];
  ctx.etcd = await startEtcdOrFail();
  ctx.store = `etcd://${ctx.etcd.member}/lanes/test`;
  ctx.tokens = tokenFile();
  // a deploy waits at most CLUSTER_WAIT_S for the other hosts to load its version (10 s by default)
  const extra = ["--admin-token-file", ctx.tokens, "--log", "json", "--cluster-wait", String(CLUSTER_WAIT_S)];
  // the first host makes the empty store's version 1; the other two start on it
  ctx.hosts.push(await startClusterHost("node", versionDir("v1", true), ctx.store, extra));
  ctx.hosts.push(
    ...(await Promise.all([startClusterHost("bun", versionDir("bun-folder"), ctx.store, extra), startClusterHost("deno", versionDir("deno-folder"), ctx.store, extra)])),
  );
});

test.after(async (ctx) => {
  await Promise.all([...(ctx.hosts ?? []), ...(ctx.late ? [ctx.late] : []), ...(ctx.ownKeys ?? [])].map((h) => h.stop()));
  await ctx.etcd?.close();
});

const urls = (ctx: Ctx) => ctx.hosts.map((h) => h.url);
const failed = (samples: Sample[]) => samples.filter((s) => s.status !== 200);
/** Every host answers `marker` on /greet. */
const allServe = async (ctx: Ctx, marker: string) => (await Promise.all(urls(ctx).map((u) => get(u, "/greet")))).every((s) => s.text === marker);

test("three hosts on Node, Bun and Deno serve the store's active deployment, and each knows the others", async (ctx) => {
  for (const h of ctx.hosts) {
    const s = await get(h.url, "/greet");
    assert.equal([s.status, s.text, s.version], [200, "v1", "v1"], `${h.runtime} serves v1 (not the folder it was started on)`);
  }
  assert.ok(await eventually(async () => (await hostRecords(ctx.hosts[2]!.url)).length === 3), "three host records");
  const records = await hostRecords(ctx.hosts[1]!.url);
  assert.equal(records.map((r) => r.runtime).sort(), ["bun", "deno", "node"]);
  assert.equal(records.map((r) => r.url).sort(), urls(ctx).sort());
  assert.ok(records.every((r) => r.revision === 1 && r.serving === "v1 100%"));
});

test("a deploy to one host is served by all three within 1 s, with 0 failed requests under a client load spread over the three (lanes deploy --wait)", async (ctx) => {
  const loads = urls(ctx).map((u) => steadyLoad(u, ["/greet", "/greet-proc"], 1, PACE_MS));
  let perHost: Sample[][] = [];
  let out: { code: number | null; out: string };
  let returned = 0;
  try {
    await new Promise((r) => setTimeout(r, 300));
    out = await runCli(["deploy", versionDir("v2", true), "--to", ctx.hosts[0]!.url, "--token-file", ctx.tokens, "--wait", "--json"]);
    returned = Date.now();
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    perHost = await Promise.all(loads.map((l) => l.stop()));
  }
  const samples = perHost.flat();
  assert.is(out.code, 0, out.out);
  const r = JSON.parse(out.out) as { version: string; wait: { ok: boolean; allSwitchedMs: number; hosts: HostRecord[] } };
  assert.is(r.version, "v2");
  assert.ok(r.wait.ok, "every live host serves the new deployment");
  assert.equal(
    r.wait.hosts.map((h) => h.serving),
    ["v2 100%", "v2 100%", "v2 100%"],
  );
  console.log(
    `  deploy to all 3 hosts switched: ${r.wait.allSwitchedMs} ms (switchMs per host, the deploying one loading included: ${r.wait.hosts.map((h) => `${h.runtime} ${h.switchMs} ms`).join(", ")})`,
  );
  assert.ok(r.wait.allSwitchedMs <= 1000, `all three switched within 1 s of the first (${r.wait.allSwitchedMs} ms)`);
  assert.equal(failed(samples), [], "no request failed on any host");
  ctx.hosts.forEach((h, i) => {
    const mine = perHost[i]!;
    assert.ok(
      mine.some((s) => s.text === "v1"),
      `${h.runtime} answered v1 before the deploy`,
    );
    const after = mine.filter((s) => s.started > returned);
    assert.ok(after.length > 0 && after.every((s) => s.text === "v2" && s.version === "v2"), `${h.runtime}: after --wait returned, every answer is v2`);
  });
});

test("lanes versions shows which host serves which version", async (ctx) => {
  const r = await runCli(["versions", "--to", ctx.hosts[2]!.url, "--token-file", ctx.tokens]);
  assert.is(r.code, 0, r.out);
  for (const h of ctx.hosts) assert.match(r.out, new RegExp(`${h.url}\\s+${h.runtime} \\S+\\s+2\\s+v2 100%`));
});

test("a version that does not load on one host is refused by the cluster, naming that host, and changes nothing", async (ctx) => {
  const dir = versionDir("not-on-bun");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(
    `${dir}/greet.ts`,
    `if ((globalThis as { Bun?: unknown }).Bun) throw new Error("this version does not load on Bun");\nexport default { fetch: () => new Response("not-on-bun") };\n`,
  );
  const r = await deploy(ctx.hosts[0]!.url, dir);
  assert.is(r.status, 400, r.text);
  assert.is(r.json.error?.code, "load_failed");
  const bun = ctx.hosts.find((h) => h.runtime === "bun")!;
  assert.match(
    `${r.json.error!.message}`,
    new RegExp(`nothing changed: it did not load on 1 other host\\(s\\):\\n  ${bun.url} \\(bun\\): [^]*greet: its module failed to load: this version does not load on Bun`),
    r.text,
  );
  assert.ok(await allServe(ctx, "v2"), "every host still serves v2");
});

test("two concurrent deploys to two hosts end with exactly one winner and a clear 409 for the other, as soon as the winner switched", async (ctx) => {
  const answered = (r: Awaited<ReturnType<typeof deploy>>) => ({ ...r, at: Date.now() });
  const [a, b] = await Promise.all([
    deploy(ctx.hosts[1]!.url, versionDir("race-bun", true)).then(answered),
    deploy(ctx.hosts[2]!.url, versionDir("race-deno", true)).then(answered),
  ]);
  assert.equal([a.status, b.status].sort(), [201, 409], `${a.text}\n${b.text}`);
  const [winner, loser] = a.status === 201 ? [a, b] : [b, a];
  // the loser stops waiting for the others to load its version once the winner's deployment is
  // active (it waited the whole 10 s a deploy gives the others: runtime/host/prepared.ts)
  assert.ok(loser.at - winner.at < 5000, `the 409 came ${loser.at - winner.at} ms after the winner's 201`);
  assert.is(loser.json.error?.code, "conflict");
  assert.match(
    `${loser.json.error!.message}`,
    /the active deployment changed meanwhile, on this or another host: deployment 3 \(v\d+ 100%, deploy by ci\) became active first; nothing was changed/,
    loser.text,
  );
  const marker = winner === a ? "race-bun" : "race-deno";
  assert.ok(await eventually(() => allServe(ctx, marker), 5000), `every host serves the winner, ${marker}`);
  const history = (await hostRecords(ctx.hosts[0]!.url)).map((h) => h.revision);
  assert.equal(history, [3, 3, 3]);
});

test("etcd stopped: hosts keep serving, report degraded, and a deploy fails clearly", async (ctx) => {
  const load = urls(ctx).map((u) => steadyLoad(u, ["/greet"], 1, PACE_MS));
  let samples: Sample[] = [];
  try {
    await ctx.etcd.stop();
    assert.ok(
      await eventually(async () => (await Promise.all(urls(ctx).map(health))).every((h) => h.status === 200 && h.body.status === "degraded"), 10_000),
      "every host reports degraded (answering 200: it is not down)",
    );
    const r = await deploy(ctx.hosts[0]!.url, versionDir("while-away"));
    assert.is(r.status, 503, r.text);
    assert.is(r.json.error?.code, "unavailable");
    assert.match(
      r.json.error!.message,
      /^nothing was changed: the deploy store etcd:\/\/127\.0\.0\.1:\d+\/lanes\/test cannot be reached \(.+\); this host keeps serving deployment 3/,
      r.text,
    );
  } finally {
    samples = (await Promise.all(load.map((l) => l.stop()))).flat();
  }
  assert.ok(samples.length > 0);
  assert.equal(failed(samples), [], "no request failed while etcd was away");
  assert.ok(
    samples.every((s) => s.text === samples[0]!.text),
    "each host kept its last deployment",
  );
  const h = await health(ctx.hosts[1]!.url);
  assert.match(String(h.body.reason), /deploy store cannot be reached since .*: serving the last deployment/);
  const metrics = (await (await fetch(`${ctx.hosts[2]!.url}/_lanes/metrics`, { headers: { accept: "application/json" } })).json()) as {
    cluster: { store: { reachable: boolean }; host: { revision: number } };
  };
  assert.equal([metrics.cluster.store.reachable, metrics.cluster.host.revision], [false, 3], "the metrics say so too");
  const scrape = await (await fetch(`${ctx.hosts[0]!.url}/_lanes/metrics`)).text();
  assert.match(scrape, /\nlanes_store_up 0\n/, "and the Prometheus scrape");
  assert.match(scrape, /\nlanes_deployment_revision 3\n/);
  for (const host of ctx.hosts) assert.match(host.output(), /deploy store etcd:\/\/\S+ cannot be reached .*serving deployment 3/, `${host.runtime} logs it`);
});

test("etcd restarted: hosts catch up without a restart, and a new deploy reaches all hosts", async (ctx) => {
  await ctx.etcd.start();
  assert.ok(await eventually(async () => (await Promise.all(urls(ctx).map(health))).every((h) => h.body.status === "ok"), 10_000), "every host reports ok again");
  const r = await deploy(ctx.hosts[2]!.url, versionDir("after-restart"));
  assert.is(r.status, 201, r.text);
  assert.ok(await eventually(() => allServe(ctx, "after-restart"), 5000), "all three serve the new deployment");
  for (const host of ctx.hosts) assert.match(host.output(), /answers again; catching up/, `${host.runtime} logs the return`);
  assert.ok(await eventually(async () => (await hostRecords(ctx.hosts[0]!.url)).every((h) => h.revision === 4), 5000), "their records follow");
});

test("a host started later serves the active deployment at once (past a dead etcd member), and leaves the host list when it stops", async (ctx) => {
  // the first member named is not there: the host moves on to the next
  const store = `etcd://127.0.0.1:${await freePort()},${ctx.etcd.member}/lanes/test`;
  ctx.late = await startClusterHost("bun", versionDir("late-folder"), store, ["--admin-token-file", ctx.tokens]);
  const first = await get(ctx.late.url, "/greet");
  assert.equal([first.status, first.text, first.version], [200, "after-restart", first.version], "its first answer is the active deployment's");
  // ready once its start-up load check has found its functions can start (503 "starting" before)
  const late = ctx.late;
  assert.ok(await eventually(async () => (await fetch(`${late.url}/_lanes/ready`)).status === 200, 10_000), "ready");
  assert.ok(await eventually(async () => (await hostRecords(ctx.hosts[0]!.url)).length === 4), "a fourth record");
  await ctx.late.stop();
  ctx.late = undefined;
  assert.equal((await hostRecords(ctx.hosts[0]!.url)).length, 3, "its record went with it");
});

test("lanes rollback --wait to a version no host runs any more reaches all three at once", async (ctx) => {
  const before = (await get(ctx.hosts[0]!.url, "/greet")).text;
  assert.is(before, "after-restart");
  const r = await runCli(["rollback", "--to", ctx.hosts[1]!.url, "--token-file", ctx.tokens, "--wait", "--json"]);
  assert.is(r.code, 0, r.out);
  const out = JSON.parse(r.out) as { deployment: { reason: string }; wait: { ok: boolean; allSwitchedMs: number; hosts: HostRecord[] } };
  assert.is(out.deployment.reason, "rollback");
  const each = out.wait.hosts.map((h) => `${h.runtime} switched at ${h.switchedAt} in ${h.switchMs} ms`).join(", ");
  assert.ok(out.wait.ok && out.wait.allSwitchedMs <= 1000, `all three switched within 1 s of the first (${out.wait.allSwitchedMs} ms: ${each})`);
  const answers = await Promise.all(urls(ctx).map((u) => get(u, "/greet")));
  assert.ok(
    answers.every((a) => /^race-(bun|deno)$/.test(a.text) && a.text === answers[0]!.text),
    answers.map((a) => a.text).join(", "),
  );
});

test("lanes deploy --wait names a host that has not switched yet and why, exits 1, and that host follows once it has loaded", async (ctx) => {
  // on Deno only, the new version takes 5 s longer to load than a deploy waits for the others
  // (--cluster-wait): the deploy switches when that wait is over, before Deno has it. (With the
  // default 10 s it would wait until Deno had loaded it too, and all three would switch.)
  const slowMs = (CLUSTER_WAIT_S + 5) * 1000;
  const dir = versionDir("slow-on-deno");
  const { readFileSync, writeFileSync } = await import("node:fs");
  writeFileSync(`${dir}/greet.ts`, `if ((globalThis as { Deno?: unknown }).Deno) await new Promise((r) => setTimeout(r, ${slowMs}));\n${readFileSync(`${dir}/greet.ts`, "utf8")}`);
  const deno = ctx.hosts.find((h) => h.runtime === "deno")!;
  const t0 = Date.now();
  const r = await runCli(["deploy", dir, "--to", ctx.hosts[0]!.url, "--token-file", ctx.tokens, "--wait", "--wait-timeout", "1"]);
  const tookMs = Date.now() - t0;
  assert.is(r.code, 1, r.out);
  // it waited for the other hosts first (a full run put 11 s of loading and starting around it)
  assert.ok(tookMs >= CLUSTER_WAIT_S * 1000, `lanes deploy --wait returned after ${tookMs} ms (--cluster-wait ${CLUSTER_WAIT_S})`);
  assert.match(
    r.out,
    /2 of 3 live host\(s\) serve deployment 6; not:\n {4}(\S+) \(deno\): still serves deployment 5 \(v\d+ 100%\) after 1 s; loading deployment 6 since \S+\n/,
    r.out,
  );
  assert.ok(r.out.includes(` ${deno.url} (deno): `), r.out);
  assert.match((await get(deno.url, "/greet")).text, /^race-(bun|deno)$/, "meanwhile it serves its last deployment");
  assert.ok(await eventually(() => allServe(ctx, "slow-on-deno"), slowMs), "then all three serve it");
});

test("a switch compares the record it read: another host's switch noted while it checks its versions makes it a conflict, never a second revision", async (ctx) => {
  const url = parseEtcdUrl(`etcd://${ctx.etcd.member}/lanes/switch-race`);
  const [a, b] = [await EtcdStore.open(url), await EtcdStore.open(url)];
  const version = (id: string) => ({ id, createdAt: new Date().toISOString(), tag: null, message: null, author: "ci", files: {}, digest: id });
  for (const id of ["v1", "v2", "v3"]) await a.putVersion(version(id));
  const deployment = (stable: string) => ({ createdAt: new Date().toISOString(), author: "ci", reason: "deploy" as const, message: null, stable, canary: null });
  await a.activate(deployment("v1"), 0);
  assert.is((await b.active())?.revision, 1);
  // while b checks that its version is kept, a switches and b notes it, as b's watch would
  const client = (b as unknown as { client: { has(key: string): Promise<boolean> } }).client;
  const has = client.has.bind(client);
  let raced = false;
  client.has = async (key) => {
    if (!raced) {
      raced = true;
      await a.activate(deployment("v2"), 1);
      assert.is((await b.active())?.revision, 2);
    }
    return has(key);
  };
  const err = await b.activate(deployment("v3"), 1).then(
    (d) => new Error(`b switched too, as revision ${d.revision}`),
    (e: Error) => e,
  );
  assert.ok(raced, "b checked its version");
  assert.match(err.message, /the active deployment changed meanwhile, on this or another host: deployment 2 \(v2 100%, deploy by ci\) became active first/);
  assert.equal(
    (await a.history()).map((d) => [d.revision, d.stable]),
    [
      [2, "v2"],
      [1, "v1"],
    ],
  );
  await Promise.all([a.close(), b.close()]);
});

test("a switch waits for the other hosts to load the version it staged now: a record of having loaded it for an earlier staging does not count", async (ctx) => {
  const url = parseEtcdUrl(`etcd://${ctx.etcd.member}/lanes/stale-prepared`);
  const [a, b] = [await EtcdStore.open(url), await EtcdStore.open(url)];
  const record = (id: string, prepared: HostRecord["prepared"]): HostRecord => ({
    id,
    url: `http://127.0.0.1:9/${id}`,
    runtime: "node",
    runtimeVersion: "0",
    startedAt: new Date().toISOString(),
    revision: 1,
    serving: "v2 100%",
    switchedAt: new Date().toISOString(),
    switchMs: null,
    loading: null,
    failed: null,
    prepared,
  });
  try {
    await a.announce(record("host-a", null));
    // b loaded v1 for a deploy long ago (its release stopped since), and its record still says so
    await b.announce(record("host-b", { version: "v1", stage: "an-earlier-staging", error: null }));
    const waitMs = 1500;
    const s = staging(a, new Map(), "v1", waitMs)!;
    await s.stage(new Map(), {});
    let t0 = Date.now();
    await s.everywhere(0);
    const waited = Date.now() - t0;
    assert.ok(waited >= waitMs - 50, `it waited for b, up to its limit (${waited} ms)`);
    // once b says it loaded v1 for this staging, the wait ends at once
    await b.announce(record("host-b", { version: "v1", stage: s.stageId, error: null }));
    t0 = Date.now();
    await s.everywhere(0);
    assert.ok(Date.now() - t0 < waitMs / 2, `it went on once b answered (${Date.now() - t0} ms)`);
    // and a failure b reports for this staging refuses the switch
    await b.announce(record("host-b", { version: "v1", stage: s.stageId, error: "it threw while loading" }));
    const err = await s.everywhere(0).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.match(err?.message ?? "", /did not load on 1 other host\(s\):[\s\S]*it threw while loading/);
    await s.end();
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test("a file larger than etcd's request limit is kept in chunks and read back whole", async (ctx) => {
  const store = await EtcdStore.open(parseEtcdUrl(`etcd://${ctx.etcd.member}/lanes/chunks`));
  const big = new Uint8Array(2 * 1024 * 1024 + 7).map((_, i) => (i * 31) & 0xff);
  const hash = await store.putBlob(big);
  assert.equal(await store.getBlob(hash), big);
  assert.ok(big.length > 3 * CHUNK_BYTES);
  await store.close();
});

test("sealed secret records are kept in etcd, replaced by name and function, and deleted once", async (ctx) => {
  const store = await EtcdStore.open(parseEtcdUrl(`etcd://${ctx.etcd.member}/lanes/secrets`));
  const record = (fn: string | null, data: string) => ({ name: "API_KEY", function: fn, keyId: "k1", iv: "aXY=", data, updatedAt: "2026-01-01T00:00:00.000Z", author: "ci" });
  await store.putSecret(record(null, "b25l"));
  await store.putSecret(record("greet", "dHdv"));
  await store.putSecret(record(null, "dGhyZWU="));
  const kept = (await store.listSecrets()).map((r) => [r.function, r.data]).sort();
  assert.equal(
    kept,
    [
      ["greet", "dHdv"],
      [null, "dGhyZWU="],
    ].sort(),
  );
  assert.equal([await store.deleteSecret("API_KEY", "greet"), await store.deleteSecret("API_KEY", "greet")], [true, false]);
  assert.equal(
    (await store.listSecrets()).map((r) => r.function),
    [null],
  );
  await store.close();
});

test("a secret set on one host reaches the functions that use it on the other hosts, and a rotation too", async (ctx) => {
  const key = join(scratchDir("key-"), "secrets.key");
  writeFileSync(key, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
  const folder = (names: boolean) => {
    const dir = scratchDir("secret-fns-");
    cpSync(join(fixtures, "secret.ts"), join(dir, "secret.ts"));
    const env = { API_KEY: names ? { secret: "API_KEY" } : "not a secret" };
    writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions: { api: { entry: "secret.ts", env }, "api-proc": { entry: "secret.ts", lane: "process", env } } }));
    return dir;
  };
  const store = `etcd://${ctx.etcd.member}/lanes/secrets-follow`;
  const extra = ["--admin-token-file", ctx.tokens, "--secrets-key-file", key, "--log", "json"];
  const a = await startClusterHost("node", folder(false), store, extra);
  const b = await startClusterHost("bun", folder(false), store, extra).catch(async (e) => {
    await a.stop();
    throw e;
  });
  const hashOn = async (url: string, fn: string) => {
    const s = await get(url, `/${fn}`);
    return s.status === 200 ? (JSON.parse(s.text) as { hashes: Record<string, string> }).hashes.API_KEY : `status ${s.status}`;
  };
  const sha = (text: string) => createHash("sha256").update(text).digest("hex");
  try {
    for (const v of ["first-value-0123456789", "rotated-value-9876543210"]) {
      const set = await runCliWithInput(["secret", "set", "API_KEY", "--to", a.url, "--token-file", ctx.tokens], `${v}\n`);
      assert.is(set.code, 0, set.out);
      if (v.startsWith("first")) {
        const d = await runCli(["deploy", folder(true), "--to", a.url, "--token-file", ctx.tokens, "--wait"]);
        assert.is(d.code, 0, d.out);
      }
      for (const fn of ["api", "api-proc"]) {
        assert.ok(await eventually(async () => (await hashOn(b.url, fn)) === sha(v), 5000), `${fn} on the bun host got the value set on the node host: ${await hashOn(b.url, fn)}`);
        assert.is(await hashOn(a.url, fn), sha(v), `${fn} on the node host`);
      }
    }
    assert.ok(!b.output().includes("rotated-value"), "no value in the other host's log");
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test("a switch whose answer from etcd is lost says the change was made, not that nothing changed", async (ctx) => {
  // a proxy in front of etcd that forwards the switch (the transaction that writes the active key)
  // at once but holds its answer past the client's 2 s timeout, as a network that drops it would
  const prefix = "/lanes/lost";
  const activeKey = Buffer.from(`${prefix}/active`).toString("base64");
  let holding = false; // not the host's first version, only the deploy's switch
  const proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const holdAnswer = holding && req.url === "/v3/kv/txn" && body.includes(`"request_put":{"key":"${activeKey}"`);
      const up = httpRequest(`http://${ctx.etcd.member}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        setTimeout(
          () => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
          holdAnswer ? 3000 : 0,
        );
      });
      up.on("error", () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const port = (proxy.address() as AddressInfo).port;
  const host = await startClusterHost("node", versionDir("lost-v1"), `etcd://127.0.0.1:${port}${prefix}`, ["--admin-token-file", ctx.tokens]);
  try {
    holding = true;
    const r = await deploy(host.url, versionDir("lost-v2"));
    assert.is(r.status, 503, r.text);
    assert.match(r.json.error!.message, /the change was made all the same: deployment 2 is active \(lanes versions shows it\); do not try again/, r.text);
    assert.not.match(r.json.error!.message, /nothing was changed/);
    assert.ok(await eventually(async () => (await get(host.url, "/greet")).text === "lost-v2", 10_000), "the host serves the version the store holds");
  } finally {
    await host.stop();
    proxy.closeAllConnections();
    await new Promise((r) => proxy.close(r));
  }
});

/**
 * Two node hosts on a store of their own, each with a key of its own (as after a half-done
 * rotation): started by the first test that needs them, kept for the next (stopped after the suite).
 */
async function twoHostsWithOwnKeys(ctx: Ctx): Promise<[ClusterHost, ClusterHost]> {
  if (ctx.ownKeys) return ctx.ownKeys;
  const keyFile = () => {
    const f = join(scratchDir("key-"), "secrets.key");
    writeFileSync(f, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
    return f;
  };
  const dir = scratchDir("secret-keys-");
  cpSync(join(fixtures, "secret.ts"), join(dir, "secret.ts"));
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions: { api: { entry: "secret.ts", env: { API_KEY: "not a secret" } } } }));
  const store = `etcd://${ctx.etcd.member}/lanes/secrets-keys`;
  const extra = (key: string) => ["--admin-token-file", ctx.tokens, "--secrets-key-file", key, "--log", "json"];
  const a = await startClusterHost("node", dir, store, extra(keyFile()));
  const b = await startClusterHost("node", dir, store, extra(keyFile())).catch(async (e) => {
    await a.stop();
    throw e;
  });
  ctx.ownKeys = [a, b];
  assert.ok(await eventually(async () => (await hostRecords(a.url)).length === 2), "both hosts have their records");
  return ctx.ownKeys;
}

const UNOPENED_VALUE = "the-value-b-cannot-open-0123";

test("a host whose key does not open a secret set on another says so: health degraded, not ready, and its record in lanes versions names the secret", async (ctx) => {
  const [a, b] = await twoHostsWithOwnKeys(ctx);
  const ready = async (url: string) => {
    const res = await fetch(`${url}/_lanes/ready`);
    return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
  };
  const set = await runCliWithInput(["secret", "set", "API_KEY", "--to", a.url, "--token-file", ctx.tokens], `${UNOPENED_VALUE}\n`);
  assert.match(set.out, /set API_KEY on /);
  const why = /cannot open secret API_KEY: sealed with a key this host does not have/;
  assert.ok(await eventually(async () => (await health(b.url)).body.status === "degraded", 5000), JSON.stringify((await health(b.url)).body));
  const hb = await health(b.url);
  assert.is(hb.status, 200, "health stays 200: a liveness probe must not kill the host");
  assert.match(String(hb.body.reason), why);
  const rb = await ready(b.url);
  assert.equal([rb.status, rb.body.status], [503, "stale_secrets"], "not ready: it would serve a value replaced since");
  assert.match(String(rb.body.reason), why);
  assert.equal([(await health(a.url)).body.status, (await ready(a.url)).status], ["ok", 200], "the host that set it reads it");
  const records = await hostRecords(a.url);
  assert.equal(records.find((h) => h.url === b.url)?.secrets?.unreadable, ["secret API_KEY"]);
  assert.equal(records.find((h) => h.url === a.url)?.secrets?.error, null);
  const versions = await runCli(["versions", "--to", a.url, "--token-file", ctx.tokens]);
  assert.match(versions.out, new RegExp(`${b.url}\\s.*cannot open secret API_KEY: sealed with a key this host does not have`));
  for (const out of [versions.out, a.output(), b.output(), JSON.stringify(records), JSON.stringify(hb.body)]) assert.not.match(out, UNOPENED_VALUE, "no value shown");
});

test("lanes secret set names the other live hosts that lack the key it sealed with, and exits 1", async (ctx) => {
  const [a, b] = await twoHostsWithOwnKeys(ctx);
  // the hosts' key ids are in their records once they announce them
  await eventually(async () => (await hostRecords(a.url)).every((h) => h.secrets), 3000);
  const set = await runCliWithInput(["secret", "set", "API_KEY", "--to", a.url, "--token-file", ctx.tokens], `${UNOPENED_VALUE}\n`);
  assert.is(set.code, 1, set.out);
  assert.match(set.out, /set API_KEY on /);
  assert.match(set.out, new RegExp(`1 other live host\\(s\\) cannot open it [^]*${b.url} \\(node\\): has key id\\(s\\) [0-9a-f]{16} only`));
  assert.not.match(set.out, UNOPENED_VALUE);
  const json = await runCliWithInput(["secret", "set", "API_KEY", "--to", a.url, "--token-file", ctx.tokens, "--json"], `${UNOPENED_VALUE}\n`);
  assert.is(json.code, 1, json.out);
  assert.equal(
    (JSON.parse(json.out) as { unreadableOn: { url: string }[] }).unreadableOn.map((h) => h.url),
    [b.url],
  );
});

test("--store refuses what is not etcd://HOST:PORT[,HOST:PORT...]/PREFIX, naming the rule", () => {
  const cases: [string, RegExp][] = [
    ["http://127.0.0.1:2379/lanes", /the scheme must be etcd:\/\/, not http:\/\//],
    ["etcds://127.0.0.1:2379/lanes", /TLS to etcd is not supported yet/],
    ["etcd://127.0.0.1/lanes", /"127\.0\.0\.1" needs a port from 1 to 65535/],
    ["etcd://127.0.0.1:2379", /give a key prefix after the members/],
    ["etcd://127.0.0.1:2379,127.0.0.1:2379/lanes", /an etcd member is named twice/],
    ["etcd://a:1,b c:2/lanes", /"b c:2" is not HOST:PORT/],
    ["etcd://127.0.0.1:2379/la nes", /the prefix may hold letters, digits/],
    ["etcd://root:hunter2pass@127.0.0.1:2379/lanes", /user names and passwords in the URL are not supported \(.*got "etcd:\/\/\*\*\*@127\.0\.0\.1:2379\/lanes"\)$/],
    ["http://root:hunter2pass@127.0.0.1:2379/lanes", /the scheme must be etcd:\/\/, not http:\/\/ \(.*got "http:\/\/\*\*\*@127/],
  ];
  for (const [url, rule] of cases) {
    assert.throws(
      () => parseEtcdUrl(url),
      (e: Error) => rule.test(e.message) && e.message.startsWith("--store: "),
      url,
    );
  }
  assert.equal(parseEtcdUrl("etcd://10.0.0.1:2379,etcd-1.etcd:2379/lanes/prod/"), {
    url: "etcd://10.0.0.1:2379,etcd-1.etcd:2379/lanes/prod/",
    endpoints: ["http://10.0.0.1:2379", "http://etcd-1.etcd:2379"],
    prefix: "/lanes/prod",
  });
});

/** `lanes start ARGS` on Node: its exit code and output (it is expected to refuse to start). */
async function refusedStart(args: string[]): Promise<{ code: number | null; out: string }> {
  const [cmd, argv] = lanesCommand("node", ["start", versionDir("refused"), "--port", "0", ...args]);
  const child = spawnProcess(cmd, argv, hostEnvironment("node"));
  let out = "";
  child.onOutput((t) => (out += t));
  const { code } = await child.exited;
  return { code, out };
}

test("lanes start refuses --data with --store, --advertise or --cluster-wait without --store, a --cluster-wait out of range, and an etcd it cannot reach, saying so", async () => {
  const [both, advertise, away, wait, ...waits] = await Promise.all([
    refusedStart(["--data", "x", "--store", "etcd://127.0.0.1:2379/lanes"]),
    refusedStart(["--advertise", "http://10.0.0.5:8787"]),
    freePort().then((p) => refusedStart(["--store", `etcd://127.0.0.1:${p}/lanes`])),
    refusedStart(["--cluster-wait", "5"]),
    ...["601", "soon"].map((v) => refusedStart(["--store", "etcd://127.0.0.1:2379/lanes", "--cluster-wait", v])),
  ]);
  assert.ok(wait.code !== 0 && /--cluster-wait is how long a deploy waits for the other hosts of a shared store: give --store/.test(wait.out), wait.out);
  for (const w of waits) assert.ok(w.code === 2 && /--cluster-wait must be a number of seconds from 0 to 600 \(got "[^"]*"\)/.test(w.out), w.out);
  assert.ok(both.code !== 0 && /give --data DIR \(this host's own store\) or --store etcd:\/\/\.\.\. \(shared\), not both/.test(both.out), both.out);
  assert.ok(advertise.code !== 0 && /--advertise names this host to the others of a shared store: give --store/.test(advertise.out), advertise.out);
  assert.ok(away.code !== 0 && /the deploy store etcd:\/\/127\.0\.0\.1:\d+\/lanes cannot be reached \(127\.0\.0\.1:\d+: ECONNREFUSED\)/.test(away.out), away.out);
});

test("the store's state reaches Prometheus-format metrics as gauges", async () => {
  const status: ClusterStatus = {
    host: { revision: 7 } as ClusterStatus["host"],
    store: { reachable: false, since: "2026-01-01T00:00:00.000Z", error: "gone", lost: null, full: null, location: "etcd://x:1/p" },
    switches: 3,
    failedSwitches: 1,
  };
  const res = await withClusterMetrics(new Response("# TYPE lanes_up gauge\nlanes_up 1\n", { headers: { "content-type": "text/plain; version=0.0.4" } }), status);
  const text = await res.text();
  assert.match(text, /^# TYPE lanes_up gauge\nlanes_up 1\n# HELP lanes_store_up .+\n# TYPE lanes_store_up gauge\nlanes_store_up 0\n/);
  assert.match(text, /\nlanes_deployment_revision 7\n/);
  assert.match(text, /# TYPE lanes_deployment_switches_total counter\nlanes_deployment_switches_total 3\n/);
  assert.match(text, /\nlanes_store_state_since_seconds 1767225600\n/);
});

test.run();
