/**
 * Two lanes hosts on an etcd that is wiped while they run (restarted on an empty data folder, as
 * after a lost disk or a new etcd put in its place): they keep serving what they have, say that
 * the store lost its data, and refuse deploys that would reuse version ids they already serve;
 * once a deployment is made in the store again (a host started on it makes its folder version
 * 1), they switch to it without a restart, even where its version id is the one they serve.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { hostEnvironment } from "../adapters/env.ts";
import { eventually, health, lanesCommand, startClusterHost, type ClusterHost } from "./helpers/cluster.ts";
import { deploy, get, runCli, scratchDir, tokenFile, versionDir } from "./helpers/deploy.ts";
import { startEtcd, type Etcd } from "./helpers/etcd.ts";
import { spawnProcess } from "./helpers/spawn.ts";

interface Ctx {
  etcd: Etcd;
  store: string;
  tokens: string;
  hosts: ClusterHost[];
}
const test = suite<Ctx>("lanes hosts on an etcd that loses its data");

/**
 * A version with `greet` only: every check here asks /greet. Its `greet-proc` (a process-lane
 * child tried at each load, and a spare kept for it) and `steady` (an isolate) were started at
 * each of the suite's seven host starts and on every host at each of its nine deployments, and
 * never asked for.
 */
function greetOnly(marker: string, manifest: (m: Record<string, unknown>) => void = () => {}): string {
  return versionDir(marker, "ok", (m) => {
    const functions = m.functions as Record<string, unknown>;
    delete functions["greet-proc"];
    delete functions.steady;
    manifest(m);
  });
}

test.before(async (ctx) => {
  ctx.hosts = [];
  ctx.etcd = await startEtcd();
  const store = `etcd://${ctx.etcd.member}/lanes/lost`;
  ctx.store = store;
  ctx.tokens = tokenFile();
  const extra = ["--admin-token-file", ctx.tokens, "--log", "json", "--cluster-wait", "5"];
  ctx.hosts.push(await startClusterHost("node", greetOnly("v1"), store, extra));
  ctx.hosts.push(await startClusterHost("node", greetOnly("v1"), store, extra));
});

test.after(async (ctx) => {
  await Promise.all((ctx.hosts ?? []).map((h) => h.stop()));
  await ctx.etcd?.close();
});

/** A JSON-gateway call to the test's etcd; keys and values in base64. */
async function etcdCall(ctx: Ctx, path: string, body: object): Promise<{ kvs?: { value: string }[]; count?: string; deleted?: string; header?: { revision: string } }> {
  return (await fetch(`${ctx.etcd.endpoint}/v3/kv/${path}`, { method: "POST", body: JSON.stringify(body) })).json();
}

test("a file of the active version deleted from etcd by hand: running hosts keep serving it, and a host started then refuses to start, naming the deployment, version and file", async (ctx) => {
  const [a] = ctx.hosts as [ClusterHost];
  const record = (await etcdCall(ctx, "range", { key: btoa("/lanes/lost/versions/v1") })).kvs![0]!;
  const files = JSON.parse(atob(record.value)).files as Record<string, string>;
  const gone = await etcdCall(ctx, "deleterange", { key: btoa(`/lanes/lost/blobs/${files["bundles/greet.mjs"]}`) });
  assert.is(gone.deleted, "1");

  const [cmd, argv] = lanesCommand("node", ["start", greetOnly("late"), "--port", "0", "--store", ctx.store]);
  const late = spawnProcess(cmd, argv, hostEnvironment("node"));
  let out = "";
  late.onOutput((t) => (out += t));
  const { code } = await late.exited;
  assert.ok(code !== 0, out);
  assert.ok(
    /cannot start on the store's active deployment 1 \(v1 100%\): version v1 cannot be read from the store: its file bundles\/greet(-proc)?\.mjs: store etcd:\/\/[^ ]+: blob [0-9a-f]{64} is missing; hosts that run already keep serving it/.test(
      out,
    ),
    out,
  );
  for (const h of ctx.hosts) assert.is((await get(h.url, "/greet")).text, "v1");
  assert.is((await health(a.url)).body.status, "ok");
});

/**
 * Health turns degraded for `why`, answered 200 (the host still serves). etcd is stopped to have
 * its data replaced: a host may first say the store cannot be reached (degraded too), and says
 * what it lost once etcd is back, so the wait is for the reason, not the status.
 */
async function degradedBy(h: ClusterHost, why: RegExp): Promise<void> {
  const said = async () => why.test(String((await health(h.url)).body.reason));
  assert.ok(await eventually(said), `health of ${h.url} says ${why}: ${JSON.stringify((await health(h.url)).body)}`);
  const { status, body } = await health(h.url);
  assert.equal([status, body.status], [200, "degraded"], "degraded, not down: the host still serves");
}

test("etcd restored from an older backup while hosts run: they keep serving the newer deployment, health says the store lost it, a deploy is refused; the newer data restored, all is well again", async (ctx) => {
  const [a, b] = ctx.hosts as [ClusterHost, ClusterHost];
  await ctx.etcd.saveData("old");
  const r = await deploy(a.url, greetOnly("b2"));
  assert.is(r.status, 201, r.text);
  assert.ok(await eventually(async () => (await get(b.url, "/greet")).text === "b2"), "both hosts serve b2");
  await ctx.etcd.saveData("new");

  await ctx.etcd.restoreData("old");
  for (const h of ctx.hosts) {
    await degradedBy(h, /no longer holds the active deployment \(this host saw deployment 2\): etcd was wiped, replaced or restored from an older backup/);
    const s = await get(h.url, "/greet");
    assert.equal([s.status, s.text, s.version], [200, "b2", "v2"]);
  }
  const refused = await deploy(a.url, greetOnly("b3"));
  assert.is(refused.status, 503, refused.text);
  assert.match(refused.text, /nothing was changed: the deploy store .* no longer holds the active deployment/);

  await ctx.etcd.restoreData("new");
  for (const h of ctx.hosts)
    assert.ok(await eventually(async () => (await health(h.url)).body.status === "ok"), `health of ${h.url} is ok again: ${JSON.stringify((await health(h.url)).body)}`);
});

test("etcd wiped while hosts run: they keep serving, health says the store lost the active deployment, and a deploy is refused without writing a version", async (ctx) => {
  const [a, b] = ctx.hosts as [ClusterHost, ClusterHost];
  const first = await deploy(a.url, greetOnly("w"));
  assert.is(first.status, 201, first.text);
  assert.ok(await eventually(async () => (await get(b.url, "/greet")).text === "w"), "both hosts serve w");

  await ctx.etcd.wipe();
  for (const h of ctx.hosts) {
    await degradedBy(h, /no longer holds the active deployment \(this host saw deployment 3\)/);
    const s = await get(h.url, "/greet");
    assert.equal([s.status, s.text, s.version], [200, "w", "v3"]);
  }

  const again = await deploy(a.url, greetOnly("w2"));
  assert.is(again.status, 503, again.text);
  assert.match(again.text, /nothing was changed: the deploy store .* no longer holds the active deployment/);
  // no version record: the empty store would have named it v1, an id the hosts serve with other files
  const keys = await fetch(`${ctx.etcd.endpoint}/v3/kv/range`, {
    method: "POST",
    body: JSON.stringify({ key: btoa("/lanes/lost/versions/"), range_end: btoa("/lanes/lost/versions0"), count_only: true }),
  }).then((r) => r.json() as Promise<{ count?: string }>);
  assert.is(Number(keys.count ?? 0), 0, "no version written to the wiped store");
  for (const h of ctx.hosts) assert.is((await get(h.url, "/greet")).text, "w");
  // the (empty) tables are what etcd holds now: lanes versions says so
  const listed = await runCli(["versions", "--to", b.url, "--token-file", ctx.tokens]);
  assert.is(listed.code, 0, listed.out);
  assert.ok(/warning: the deploy store etcd:\/\/\S+ no longer holds the active deployment \(this host saw deployment 3\)/.test(listed.out), listed.out);
});

/** What `url` answers on /greet: its text and the version that served it. */
async function serving(url: string): Promise<string> {
  const s = await get(url, "/greet");
  return `${s.status} ${s.text} ${s.version}`;
}

test("etcd wiped, then a host started on it makes its folder version 1: the running hosts switch to it without a restart, health degraded until they have, then ok; deploys work again", async (ctx) => {
  const [a, b] = ctx.hosts as [ClusterHost, ClusterHost];
  // (the store was wiped by the test before: both still serve what they had)
  for (const h of [a, b]) {
    assert.is(await serving(h.url), "200 w v3");
    assert.is((await health(h.url)).body.status, "degraded");
  }
  ctx.hosts.push(await startClusterHost("node", greetOnly("fresh"), ctx.store, ["--admin-token-file", ctx.tokens, "--log", "json"]));
  for (const h of [a, b]) {
    assert.ok(await eventually(async () => (await serving(h.url)) === "200 fresh v1"), `${h.url} serves the new store's v1: ${await serving(h.url)}`);
    assert.ok(await eventually(async () => (await health(h.url)).body.status === "ok"), `health of ${h.url} is ok: ${JSON.stringify((await health(h.url)).body)}`);
  }
  assert.match(a.output(), /switched to deployment 1 \(v1 100%\) of the deploy store's new history/);
  const next = await deploy(a.url, greetOnly("after"));
  assert.is(next.status, 201, next.text);
  for (const h of ctx.hosts) assert.ok(await eventually(async () => (await serving(h.url)) === "200 after v2"), `${h.url}: ${await serving(h.url)}`);
});

test("etcd wiped again while every host serves v1: the new store's own v1, other files under the same id, replaces it everywhere (never taken for the one they serve)", async (ctx) => {
  const [a] = ctx.hosts as [ClusterHost];
  const back = await runCli(["rollback", "v1", "--to", a.url, "--token-file", ctx.tokens]);
  assert.is(back.code, 0, back.out);
  for (const h of ctx.hosts) assert.ok(await eventually(async () => (await serving(h.url)) === "200 fresh v1"), `${h.url}: ${await serving(h.url)}`);
  await ctx.etcd.wipe();
  for (const h of ctx.hosts) await degradedBy(h, /no longer holds the active deployment/);
  ctx.hosts.push(await startClusterHost("node", greetOnly("other"), ctx.store, ["--admin-token-file", ctx.tokens, "--log", "json"]));
  for (const h of ctx.hosts) {
    assert.ok(await eventually(async () => (await serving(h.url)) === "200 other v1"), `${h.url} serves the new v1: ${await serving(h.url)}`);
    assert.ok(await eventually(async () => (await health(h.url)).body.status === "ok"), `health of ${h.url}: ${JSON.stringify((await health(h.url)).body)}`);
  }
});

test("etcd wiped, and the deployment made then does not load on the running hosts: they keep what they serve, health says why, and they join the next one that loads", async (ctx) => {
  // two of the hosts are enough here (the machine runs the others' suites too)
  await Promise.all(ctx.hosts.splice(2).map((h) => h.stop()));
  const [a, b] = ctx.hosts as [ClusterHost, ClusterHost];
  const flag = join(scratchDir("flag-"), "broken");
  writeFileSync(flag, "");
  // loads only while the flag is away (the isolate lane reads the host's files)
  const flaky = greetOnly("flaky", (m) => {
    (m.functions as Record<string, unknown>).flaky = { entry: "flaky.ts" };
  });
  writeFileSync(
    join(flaky, "flaky.ts"),
    `import { existsSync } from "node:fs";\nif (existsSync(${JSON.stringify(flag)})) throw new Error("flag is set");\nexport default { fetch: () => new Response("flaky") };\n`,
  );
  await ctx.etcd.wipe();
  for (const h of [a, b]) await degradedBy(h, /no longer holds the active deployment/);
  const e = await startClusterHost("node", flaky, ctx.store, ["--admin-token-file", ctx.tokens, "--log", "json"]);
  ctx.hosts.push(e);
  for (const h of [a, b]) {
    assert.ok(
      await eventually(async () => /did not load on this host/.test(String((await health(h.url)).body.reason))),
      `health of ${h.url} says the new deployment did not load: ${JSON.stringify((await health(h.url)).body)}`,
    );
    const { status, body } = await health(h.url);
    assert.equal([status, body.status], [200, "degraded"]);
    assert.match(String(body.reason), /flaky/);
    assert.is(await serving(h.url), "200 other v1");
  }
  rmSync(flag);
  const healed = await deploy(e.url, greetOnly("healed"));
  assert.is(healed.status, 201, healed.text);
  for (const h of ctx.hosts) {
    assert.ok(await eventually(async () => (await serving(h.url)) === "200 healed v2"), `${h.url}: ${await serving(h.url)}`);
    assert.ok(await eventually(async () => (await health(h.url)).body.status === "ok"), `health of ${h.url}: ${JSON.stringify((await health(h.url)).body)}`);
  }
});

test("hosts cut off while etcd was wiped and a host started on it: on their return they find its deployment made, and switch to it, even where the new etcd's revisions went past the ones they saw", async (ctx) => {
  await Promise.all(ctx.hosts.splice(2).map((h) => h.stop()));
  const [a, b] = ctx.hosts as [ClusterHost, ClusterHost];
  const before = Number((await etcdCall(ctx, "range", { key: btoa("/x") })).header?.revision);
  // frozen, they notice nothing until the new deployment is there
  for (const h of [a, b]) process.kill(h.pid, "SIGSTOP");
  try {
    await ctx.etcd.wipe();
    // a busy new etcd: its revision is past every one the hosts saw, so only the deployment tells
    for (let n = 0; n < before; n += 25) await Promise.all(Array.from({ length: 25 }, (_, i) => etcdCall(ctx, "put", { key: btoa(`/other/${n + i}`), value: btoa("x") })));
    ctx.hosts.push(await startClusterHost("node", greetOnly("meanwhile"), ctx.store, ["--admin-token-file", ctx.tokens, "--log", "json"]));
  } finally {
    for (const h of [a, b]) process.kill(h.pid, "SIGCONT");
  }
  for (const h of [a, b]) {
    assert.ok(await eventually(async () => (await serving(h.url)) === "200 meanwhile v1"), `${h.url}: ${await serving(h.url)}`);
    assert.ok(await eventually(async () => (await health(h.url)).body.status === "ok"), `health of ${h.url}: ${JSON.stringify((await health(h.url)).body)}`);
  }
});

test.run();
