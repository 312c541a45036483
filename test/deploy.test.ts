/**
 * Deploying to a running host, as users do it: `lanes start --data` in its own process under
 * the runtime running this file, `lanes deploy/promote/rollback` (the CLI, and the same upload
 * sent from here), a steady client load while versions switch.
 */
import { Buffer } from "node:buffer";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { adapter } from "./helpers/host.ts";
import { guestPids, isIdleSpare } from "./helpers/chaos.ts";
import { eventually } from "./helpers/cluster.ts";
import { parseExposition, value } from "./helpers/exposition.ts";
import {
  answeredSince,
  api,
  deploy,
  get,
  many,
  PACE_MS,
  runCli,
  scratchDir,
  sleep,
  startStoreHost,
  steadyLoad,
  tokenFile,
  TOKEN,
  OTHER_TOKEN,
  versionDir,
  type Sample,
  type StoreHost,
} from "./helpers/deploy.ts";

const test = suite<{ host: StoreHost; tokens: string }>(`deploying on ${adapter.name}`);
const PATHS = ["/greet", "/greet-proc"];

test.before(async (ctx) => {
  ctx.tokens = tokenFile();
  ctx.host = await startStoreHost(versionDir("v1"), join(scratchDir("data-"), "store"), ["--admin-token-file", ctx.tokens, "--max-upload-mb", "1", "--log", "json"]);
});

test.after(async ({ host }) => {
  await host?.stop();
});

const failed = (samples: Sample[]) => samples.filter((s) => s.status !== 200);
const cli = (ctx: { host: StoreHost; tokens: string }, ...args: string[]) => runCli([...args, "--to", ctx.host.url, "--token-file", ctx.tokens, "--json"]);

test("a new store serves the folder it started on as version 1", async ({ host }) => {
  for (const path of PATHS) {
    const s = await get(host.url, path);
    assert.equal([s.status, s.text, s.version], [200, "v1", "v1"], path);
  }
  const v = await api(host.url, "GET", "versions");
  assert.is(v.status, 200);
  assert.equal(
    (v.json.versions as { id: string; author: string }[]).map((x) => [x.id, x.author]),
    [["v1", "lanes"]],
  );
});

test("lanes deploy switches every route at once under load: 0 failed requests, the answer changes, in-flight requests finish on v1", async (ctx) => {
  // (warm spares are no version's)
  const oldChildren = guestPids(ctx.host.pid).filter((pid) => !isIdleSpare(pid));
  assert.ok(oldChildren.length > 0, "v1 runs greet-proc in a child process");
  const load = steadyLoad(ctx.host.url, PATHS, 2, PACE_MS);
  let samples: Sample[] = [];
  let deployed = 0;
  try {
    const heldAt = Date.now();
    const held = PATHS.map((p) => get(ctx.host.url, `${p}?hold=first-deploy`));
    await answeredSince(load.samples, heldAt, 8); // requests sent after the held ones are answered: those are in their function
    await sleep(100);
    const r = await cli(ctx, "deploy", versionDir("v2"), "--message", "second");
    deployed = Date.now();
    assert.is(r.code, 0, r.out);
    const out = JSON.parse(r.out);
    assert.is(out.version, "v2");
    assert.equal(out.changed.sort(), ["greet", "greet-proc"]);
    assert.equal(out.unchanged, ["steady"]);
    assert.type(out.switchMs, "number");
    for (const p of PATHS) assert.is((await get(ctx.host.url, `${p}?release=first-deploy`)).text, "v2");
    for (const s of await Promise.all(held)) {
      assert.equal([s.status, s.text, s.version], [200, "v1", "v1"], `${s.path}: started before the switch, finished on v1 after it`);
    }
    await answeredSince(load.samples, deployed, 8);
  } finally {
    samples = await load.stop();
  }
  assert.equal(failed(samples), [], "no request failed during the deploy");
  for (const path of PATHS) {
    const mine = samples.filter((s) => s.path === path);
    assert.ok(
      mine.some((s) => s.text === "v1"),
      `${path} answered v1 before the deploy`,
    );
    const after = mine.filter((s) => s.started > deployed);
    assert.ok(after.length > 0 && after.every((s) => s.text === "v2" && s.version === "v2"), `${path}: every request after the deploy answered v2`);
  }
  assert.ok(
    samples.every((s) => s.text === s.version),
    "the lanes-version header names the version that answered",
  );
  assert.match(ctx.host.output(), /"version":"v2"/, "the request log names the version");
  const end = Date.now() + 10_000;
  while (oldChildren.some((pid) => guestPids(ctx.host.pid).includes(pid)) && Date.now() < end) await sleep(50);
  assert.equal(
    oldChildren.filter((pid) => guestPids(ctx.host.pid).includes(pid)),
    [],
    "v1's child processes were drained and stopped",
  );
});

test("a gradual deployment at 30% sends 20-40% of 500 requests to the new version", async ({ host }) => {
  const r = await deploy(host.url, versionDir("v3"), { percent: 30 });
  assert.is(r.status, 201, r.text);
  assert.equal((r.json.deployment as { canary: unknown }).canary, { version: "v3", percent: 30, changed: ["greet", "greet-proc"], autoRollback: false });
  const samples = await many(host.url, "/greet", 500, 10);
  assert.equal(failed(samples), []);
  const v3 = samples.filter((s) => s.version === "v3").length;
  assert.ok(v3 >= 100 && v3 <= 200, `${v3} of 500 went to v3`);
  assert.ok(
    samples.every((s) => s.text === s.version),
    "each answer came from the version its header names",
  );
  assert.ok(
    samples.some((s) => s.version === "v2"),
    "the rest stays on v2",
  );
});

test("a request pins a version of the active deployment with the lanes-version header", async ({ host }) => {
  for (const v of ["v2", "v3"]) {
    const samples = await many(host.url, "/greet-proc", 20, 4, { "lanes-version": v });
    assert.ok(
      samples.every((s) => s.status === 200 && s.text === v && s.version === v),
      `pinned to ${v}`,
    );
  }
  const old = await get(host.url, "/greet", { "lanes-version": "v1" });
  assert.is(old.status, 400);
  assert.match(old.text, /lanes-version: \\"v1\\" is not a version of the active deployment \(v2, v3\)/);
  // logged and counted as every refused request is: clients still pinned to a version a promote
  // or rollback retired get 400s, and the operator must see them (the log and metrics showed none)
  const unrouted400 = async () => value(parseExposition(await (await fetch(`${host.url}/_lanes/metrics`)).text()), "lanes_unrouted_requests_total", { code: "400" });
  const before = await unrouted400();
  const res = await fetch(`${host.url}/greet?q=1`, { headers: { "lanes-version": "v0" } });
  await res.arrayBuffer();
  const id = res.headers.get("x-request-id") ?? "";
  assert.equal([res.status, id.length], [400, 36]);
  const line = () =>
    host
      .output()
      .split("\n")
      .find((l) => l.includes(`"requestId":"${id}"`));
  assert.ok(await eventually(() => line() !== undefined, 5000), "an access log line names the 400's request id");
  assert.match(line()!, /"kind":"access".*"method":"GET","path":"\/greet","status":400/);
  assert.is(await unrouted400(), before + 1);
});

test("/_lanes/functions lists each version of a gradual deployment with its share", async ({ host }) => {
  const list = (await (await fetch(`${host.url}/_lanes/functions`)).json()) as { functions: { name: string; deployment: { version: string; percent: number } }[] };
  const greet = list.functions.filter((f) => f.name === "greet").map((f) => f.deployment);
  assert.equal(greet, [
    { version: "v2", percent: 70 },
    { version: "v3", percent: 30 },
  ]);
});

test("lanes promote makes the new version serve every request", async (ctx) => {
  const r = await cli(ctx, "promote");
  assert.is(r.code, 0, r.out);
  assert.is(JSON.parse(r.out).deployment.stable, "v3");
  const samples = await many(ctx.host.url, "/greet", 50, 5);
  assert.ok(samples.every((s) => s.status === 200 && s.version === "v3"));
  const again = await api(ctx.host.url, "POST", "promote", {});
  assert.equal([again.status, again.json.error?.code], [409, "conflict"]);
  assert.match(again.json.error!.message, /nothing to promote: the active deployment is v3 100%/);
});

test("lanes rollback under load returns to the previous version, then to a named one, with 0 failed requests", async (ctx) => {
  const load = steadyLoad(ctx.host.url, PATHS, 2, PACE_MS);
  let samples: Sample[] = [];
  let t1 = 0;
  let t2 = 0;
  let asked = 0;
  try {
    await sleep(100);
    const back = await cli(ctx, "rollback");
    t1 = Date.now();
    assert.is(back.code, 0, back.out);
    assert.is(JSON.parse(back.out).version, "v2");
    await answeredSince(load.samples, t1, 8); // however slow the machine, some answers fall between the two
    asked = Date.now();
    const named = await cli(ctx, "rollback", "v1", "--if-version", "v2");
    t2 = Date.now();
    assert.is(named.code, 0, named.out);
    assert.equal(JSON.parse(named.out).deployment.reason, "rollback");
    await answeredSince(load.samples, t2, 8);
  } finally {
    samples = await load.stop();
  }
  assert.equal(failed(samples), [], "no request failed during the rollbacks");
  const between = samples.filter((s) => s.started > t1 && s.ended < asked);
  assert.ok(between.length > 0 && between.every((s) => s.text === "v2"), "v2 after the first rollback");
  const last = samples.filter((s) => s.started > t2);
  assert.ok(last.length > 0 && last.every((s) => s.text === "v1" && s.version === "v1"), "v1 after the named rollback");
});

test("a broken version is refused, naming the function, and changes nothing", async ({ host }) => {
  const before = await api(host.url, "GET", "versions");
  const r = await deploy(host.url, versionDir("v-broken", "broken"));
  assert.is(r.status, 400, r.text);
  assert.is(r.json.error?.code, "load_failed");
  assert.match(r.json.error!.message, /greet: .*v-broken is broken while loading/);
  assert.not.match(r.json.error!.message, /\.lanes\/|\/run\//, "no host path reaches the client");
  // a manifest the CLI would have refused, sent as it is: the host checks it the same way
  const b64 = (text: string) => Buffer.from(text).toString("base64");
  const bad = await api(host.url, "POST", "deploy", {
    files: [
      { path: "lanes.json", data: b64(JSON.stringify({ functions: { greet: { entry: "greet.ts", timeoutMs: -5 } } })) },
      { path: "greet.ts", data: b64(`export default { fetch: () => new Response("raw") };`) },
    ],
  });
  assert.is(bad.status, 400, bad.text);
  assert.is(bad.json.error?.code, "invalid_manifest");
  assert.match(bad.json.error!.message, /functions\.greet\.timeoutMs: must be a positive integer \(got -5\)/);
  const after = await api(host.url, "GET", "versions");
  assert.equal(after.json, before.json, "versions and deployments are as they were");
  assert.ok(
    (await many(host.url, "/greet", 20, 4)).every((s) => s.text === "v1"),
    "v1 still serves",
  );
});

test("lanes deploy refuses a bad manifest locally, naming the field, before uploading", async (ctx) => {
  const dir = versionDir("v-local", "ok", (m) => ((m.functions as Record<string, Record<string, unknown>>).greet!.timeoutMs = -5));
  const r = await cli(ctx, "deploy", dir);
  assert.is(r.code, 1);
  assert.match(JSON.parse(r.out).error.message, /functions\.greet\.timeoutMs: must be a positive integer \(got -5\)/);
});

test("--if-version gives 409 when the active version differs; concurrent deploys are serialized", async (ctx) => {
  const stale = await deploy(ctx.host.url, versionDir("v-stale"), { ifVersion: "v3" });
  assert.equal([stale.status, stale.json.error?.code], [409, "conflict"]);
  assert.match(stale.json.error!.message, /active version is v1, not v3/);
  // two deploys at once, both expecting v1: exactly one wins
  const [a, b] = await Promise.all([deploy(ctx.host.url, versionDir("race-a"), { ifVersion: "v1" }), deploy(ctx.host.url, versionDir("race-b"), { ifVersion: "v1" })]);
  assert.equal([a.status, b.status].sort(), [201, 409], `${a.text}\n${b.text}`);
  // without --if-version both go through, one after the other
  const [c, d] = await Promise.all([deploy(ctx.host.url, versionDir("serial-c")), deploy(ctx.host.url, versionDir("serial-d"))]);
  assert.equal([c.status, d.status], [201, 201]);
  const revs = [c, d].map((x) => (x.json.deployment as { revision: number }).revision).sort();
  assert.is(revs[1], revs[0]! + 1, "one switch after the other");
  const last = c.json.deployment as { revision: number };
  const winner = last.revision === revs[1] ? "serial-c" : "serial-d";
  assert.ok((await many(ctx.host.url, "/greet", 10, 2)).every((s) => s.text === winner));
});

test("uploads with ../x, an absolute path, a duplicate or a link are refused naming the file; an oversized one gets 413", async ({ host }) => {
  const manifest = Buffer.from(readFileSync(join(versionDir("paths"), "lanes.json"))).toString("base64");
  const upload = (files: object[]) => api(host.url, "POST", "deploy", { files: [{ path: "lanes.json", data: manifest }, ...files] });
  const x = Buffer.from("export default {}").toString("base64");
  const cases: [object[], RegExp][] = [
    [[{ path: "../x", data: x }], /files\[1\] \("\.\.\/x"\): path must stay inside the folder/],
    [[{ path: "a/../../x", data: x }], /files\[1\] \("a\/\.\.\/\.\.\/x"\): path must stay inside the folder/],
    [[{ path: "/etc/passwd", data: x }], /files\[1\] \("\/etc\/passwd"\): path must be relative/],
    [
      [
        { path: "a.ts", data: x },
        { path: "A.ts", data: x },
      ],
      /files\[2\] \("A\.ts"\): duplicate path/,
    ],
    [[{ path: "a.ts", data: x, link: "/etc/passwd" }], /files\[1\] \("a\.ts"\): only regular files can be uploaded/],
    [[{ path: "a.ts", data: "not base64!" }], /files\[1\] \("a\.ts"\): data is not valid base64/],
  ];
  for (const [files, rule] of cases) {
    const r = await upload(files);
    assert.is(r.status, 400, r.text);
    assert.match(r.json.error!.message, rule);
  }
  const big = await upload([{ path: "big.bin", data: Buffer.alloc(1.5 * 1024 * 1024).toString("base64") }]);
  assert.is(big.status, 413);
  assert.is((await api(host.url, "GET", "versions")).status, 200, "the host still answers");
});

test("a version whose code imports a file of another version's folder is refused: it could not start again once that folder goes", async ({ host }) => {
  // Each version is written to DATA/run/ID; a build read any file under DATA/run, so a version
  // built from ../v1/... was deployed (201), and a rollback to it after v1's folder went, or a
  // restart, failed to compile. A deployed version holds all its code (README, Deploy).
  const active = ((await api(host.url, "GET", "deployment")).json.active as { stable: string }).stable;
  const b64 = (text: string) => Buffer.from(text).toString("base64");
  const manifest = { functions: { peek: { entry: "peek.ts", lane: "isolate" } } };
  const peek = `import other from "../${active}/lanes.json" with { type: "text" };\nexport default { fetch: () => new Response(other) };\n`;
  const r = await api(host.url, "POST", "deploy", {
    files: [
      { path: "lanes.json", data: b64(JSON.stringify(manifest)) },
      { path: "peek.ts", data: b64(peek) },
    ],
  });
  assert.is(r.status, 400, r.text);
  assert.is(r.json.error?.code, "load_failed");
  assert.match(r.json.error!.message, new RegExp(`peek: imports \\S*/run/${active}/lanes\\.json, outside its version's folder`));
  const after = (await api(host.url, "GET", "deployment")).json.active as { stable: string };
  assert.is(after.stable, active, "nothing changed");
});

test("--auto-rollback rolls a clearly worse new version back by itself, and leaves a healthy one alone", async ({ host }) => {
  const healthy = await deploy(host.url, versionDir("healthy"), { percent: 50, autoRollback: true });
  assert.is(healthy.status, 201, healthy.text);
  await many(host.url, "/greet", 160, 8);
  const still = await api(host.url, "GET", "deployment");
  assert.is((still.json.active as { canary: { version: string } | null }).canary?.version, healthy.json.version);
  const bad = await deploy(host.url, versionDir("fails", "fails"), { percent: 50, autoRollback: true });
  assert.is(bad.status, 201, bad.text);
  const verdict = /auto-rollback: v\d+ is clearly worse/;
  let served = 0;
  while (served < 800 && !verdict.test(host.output())) served += (await many(host.url, "/greet", 20, 4)).length;
  // The verdict is taken on a request; the switch back is a durable store write after it, which
  // a busy machine may take a while to make: wait for it without sending more traffic.
  const end = Date.now() + 15_000;
  let d = (await api(host.url, "GET", "deployment")).json.active as { reason: string; canary: unknown; message: string };
  while (d.reason !== "auto-rollback" && Date.now() < end) {
    await sleep(100);
    d = (await api(host.url, "GET", "deployment")).json.active as typeof d;
  }
  const said = host
    .output()
    .split("\n")
    .filter((l) => l.includes("auto-rollback"));
  assert.is(d.reason, "auto-rollback", `rolled back within ${served} requests: ${JSON.stringify(d)}\n${said.join("\n")}`);
  assert.is(d.canary, null);
  assert.match(d.message, /new \d+\/\d+ 5xx \(100\.0%\) vs stable 0\/\d+ \(0\.0%\), z = /);
  assert.match(host.output(), verdict, "the host logs why it rolled back");
  const after = await many(host.url, "/greet", 30, 3);
  assert.ok(
    after.every((s) => s.status === 200 && s.text !== "fails"),
    "every request after the rollback is served by the stable version",
  );
});

test("the admin API needs a valid token: 401 with WWW-Authenticate, then 429 after repeated failures; tokens are never logged", async ({ host }) => {
  const none = await fetch(`${host.url}/_lanes/api/versions`);
  assert.is(none.status, 401);
  assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer realm="lanes"/);
  const ops = await api(host.url, "GET", "versions", undefined, OTHER_TOKEN);
  assert.is(ops.status, 200, "a second token works too");
  const wrong = "wrong-token-0000000000000";
  const codes: number[] = [];
  for (let i = 0; i < 7; i++) codes.push((await api(host.url, "GET", "versions", undefined, wrong)).status);
  assert.equal(codes, [401, 401, 401, 401, 401, 429, 429]);
  const blocked = await fetch(`${host.url}/_lanes/api/versions`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.is(blocked.status, 429, "a right token does not lift the block");
  assert.ok(Number(blocked.headers.get("retry-after")) >= 1);
  await sleep(Number(blocked.headers.get("retry-after")) * 1000 + 100);
  assert.is((await api(host.url, "GET", "versions")).status, 200, "the block ends");
  const out = host.output();
  for (const t of [TOKEN, OTHER_TOKEN, wrong]) assert.not.ok(out.includes(t), "no token in the host's output");
  assert.is((await get(host.url, "/greet")).status, 200, "functions need no token");
});

test("an admin API route asked for with another method gets 405 naming the methods it takes, not a 404 saying it is not there", async ({ host }) => {
  const cases = [
    ["GET", "deploy", "POST"],
    ["GET", "promote", "POST"],
    ["PUT", "rollback", "POST"],
    ["POST", "versions", "GET, HEAD"],
    ["DELETE", "deployment", "GET, HEAD"],
    ["POST", "secrets", "GET, HEAD"],
    ["POST", "secrets/API_KEY", "PUT, DELETE"],
  ] as const;
  for (const [method, path, allow] of cases) {
    const res = await fetch(`${host.url}/_lanes/api/${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal([res.status, res.headers.get("allow"), body.error.code], [405, allow, "method_not_allowed"], `${method} ${path}: ${body.error.message}`);
    assert.ok(res.headers.get("x-request-id"), "with its request id");
  }
  const none = await fetch(`${host.url}/_lanes/api/nope`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.is(none.status, 404, "a route that is not there");
  await none.arrayBuffer();
  assert.is((await fetch(`${host.url}/_lanes/api/deploy`)).status, 401, "still behind the token");
});

test("a version's requests are counted in /_lanes/metrics even when Prometheus scrapes while it loads", async ({ host }) => {
  // its module takes 0.5 s to load (ten scrapes meanwhile; a load spins, so 1.5 s cost a second
  // of CPU more each time); a scrape meanwhile dropped the meter its requests count into
  const dir = versionDir("slow-load", "ok", (m) => {
    (m.functions as Record<string, unknown>).slow = { entry: "slow.ts", lane: "process" };
  });
  writeFileSync(join(dir, "slow.ts"), `const end = Date.now() + 500;\nwhile (Date.now() < end);\nexport default { fetch: () => new Response("slow") };\n`);
  let scraping = true;
  const scrapes = (async () => {
    while (scraping) {
      await (await fetch(`${host.url}/_lanes/metrics`)).text();
      await sleep(50);
    }
  })();
  const r = await deploy(host.url, dir);
  scraping = false;
  await scrapes;
  assert.is(r.status, 201, r.text);
  const version = r.json.version as string;
  for (let i = 0; i < 3; i++) assert.is((await get(host.url, "/slow")).text, "slow");
  const scrape = await (await fetch(`${host.url}/_lanes/metrics`)).text();
  const counted = scrape.split("\n").filter((l) => l.startsWith("lanes_requests_total{") && l.includes('function="slow"'));
  assert.ok(
    counted.some((l) => l.includes(`version="${version}"`) && / 3$/.test(l)),
    `the 3 requests to slow@${version}:\n${counted.join("\n")}`,
  );
});

test("a gradual deployment lists a function it removes as changed, and splits and pins /_lanesx like any route", async ({ host }) => {
  const edge = (m: Record<string, unknown>) => {
    (m.functions as Record<string, unknown>).edge = { entry: "greet.ts", lane: "isolate", route: "/_lanesx" };
  };
  const a = await deploy(host.url, versionDir("edge-a", "ok", edge));
  assert.is(a.status, 201, a.text);
  const b = await deploy(
    host.url,
    versionDir("edge-b", "ok", (m) => {
      edge(m);
      delete (m.functions as Record<string, unknown>).steady;
    }),
    { percent: 50 },
  );
  assert.is(b.status, 201, b.text);
  const { canary } = b.json.deployment as { canary: { version: string; changed: string[] } };
  assert.equal(canary.changed.sort(), ["edge", "greet", "greet-proc", "steady"], "steady, which the new version removes, is changed");
  const steady = await many(host.url, "/steady", 60, 6);
  assert.ok(steady.some((s) => s.status === 404) && steady.some((s) => s.status === 200), "the removed function answers 404 on the new version's share only");
  const split = await many(host.url, "/_lanesx", 60, 6);
  const marker = new Map([
    [a.json.version as string, "edge-a"],
    [canary.version, "edge-b"],
  ]);
  assert.ok(
    split.every((s) => s.status === 200 && s.version !== null && marker.get(s.version) === s.text),
    "each answer came from the version its header names",
  );
  assert.equal([...new Set(split.map((s) => s.text))].sort(), ["edge-a", "edge-b"], "both versions serve /_lanesx");
  const pinned = await get(host.url, "/_lanesx", { "lanes-version": canary.version });
  assert.equal([pinned.status, pinned.version], [200, canary.version]);
  const unknown = await get(host.url, "/_lanesx", { "lanes-version": "v999" });
  assert.is(unknown.status, 400, unknown.text);
});

/**
 * A folder whose function `r` (process lane) is granted `read` (and `write`); `files` by path
 * (null: an empty folder). `GET /r?f=PATH` answers that file, `?w=TEXT` writes it to out/w.txt
 * and answers what it reads back.
 */
function grantsDir(files: Record<string, string | null>, permissions: { read: string[]; write?: string[] }): string {
  const dir = scratchDir("grants-");
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    if (text === null) mkdirSync(join(dir, path));
    else writeFileSync(join(dir, path), text);
  }
  writeFileSync(
    join(dir, "r.ts"),
    `import { readFileSync, writeFileSync } from "node:fs";
export default {
  fetch(request: Request) {
    const q = new URL(request.url).searchParams;
    const w = q.get("w");
    if (w) writeFileSync("out/w.txt", w);
    return new Response(readFileSync(w ? "out/w.txt" : q.get("f")!, "utf8"));
  },
};
`,
  );
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions: { r: { entry: "r.ts", route: "/r", lane: "process", permissions } } }));
  return dir;
}

test("lanes deploy carries the files a function may read: the deployed version serves them in the process lane", async (ctx) => {
  const dir = grantsDir({ "data/x.txt": "granted x", "data/deep/y.txt": "granted y" }, { read: ["data"] });
  const r = await cli(ctx, "deploy", dir);
  assert.is(r.code, 0, r.out);
  const version = JSON.parse(r.out).version as string;
  for (const [path, text] of [
    ["data/x.txt", "granted x"],
    ["data/deep/y.txt", "granted y"],
  ]) {
    const s = await get(ctx.host.url, `/r?f=${path}`);
    assert.equal([s.status, s.text, s.version], [200, text, version], path);
  }
});

test("a granted path that is an empty folder is there in the deployed version, and a write grant can be written", async (ctx) => {
  const dir = grantsDir({ "data/x.txt": "x", out: null }, { read: ["data"], write: ["out"] });
  const r = await cli(ctx, "deploy", dir);
  assert.is(r.code, 0, r.out);
  const s = await get(ctx.host.url, "/r?w=written");
  assert.equal([s.status, s.text, s.version], [200, "written", JSON.parse(r.out).version]);
  assert.equal(readdirSync(join(dir, "out")), [], "the write went to the version's copy, not the folder it was deployed from");
});

test("lanes deploy refuses a link or a fifo under a granted path, naming the field and the file, and uploads nothing", async (ctx) => {
  const dir = grantsDir({ "data/x.txt": "x", "secret.txt": "not granted" }, { read: ["data"] });
  symlinkSync("../secret.txt", join(dir, "data", "link.txt"));
  execFileSync("mkfifo", [join(dir, "data", "pipe")]);
  const before = await api(ctx.host.url, "GET", "versions");
  const r = await cli(ctx, "deploy", dir);
  assert.is(r.code, 1, r.out);
  const message = JSON.parse(r.out).error.message as string;
  assert.match(message, /functions\.r\.permissions\.read\.0: data\/link\.txt: is a symbolic link: a deployed version holds regular files and folders only/);
  assert.match(message, /functions\.r\.permissions\.read\.0: data\/pipe: is not a regular file \(a device, fifo or socket\)/);
  assert.equal((await api(ctx.host.url, "GET", "versions")).json, before.json, "no version was uploaded");
});

test("a new store whose first start failed starts on a fixed folder next time", async () => {
  const data = join(scratchDir("data-"), "store");
  const syntax = versionDir("syntax");
  writeFileSync(join(syntax, "steady.ts"), 'export default { fetch: () => new Response("steady") ;\n');
  const failing: [string, string, string[], RegExp][] = [
    ["an entry with a syntax error", syntax, [], /functions\.steady: .*steady\.ts/],
    [
      "a read grant naming nothing",
      versionDir("missing", "ok", (m) => ((m.functions as Record<string, Record<string, unknown>>)["greet-proc"]!.permissions = { read: ["nothing-here"] })),
      [],
      /functions\.greet-proc\.permissions\.read\.0: not found/,
    ],
    ["a function that cannot load, with --strict", versionDir("broken", "broken"), ["--strict"], /--strict: 2 of 3 function\(s\) cannot start/],
  ];
  for (const [what, dir, extra, why] of failing) {
    const refused = await startStoreHost(dir, data, extra).then(
      async (h) => {
        await h.stop();
        return undefined;
      },
      (e: Error) => e.message,
    );
    assert.ok(refused, `${what}: the start was refused`);
    assert.match(refused!, why, what);
  }
  const host = await startStoreHost(versionDir("fixed"), data);
  try {
    for (const path of PATHS) {
      const s = await get(host.url, path);
      assert.equal([s.status, s.text, s.version], [200, "fixed", "v1"], path);
    }
  } finally {
    await host.stop();
  }
});

test.run();
