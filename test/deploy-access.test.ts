/**
 * Who may read what: on a host bound to a non-loopback address, /_lanes/functions and
 * /_lanes/metrics need the admin token and /_lanes/health never does; without a token the
 * admin API is off and says how to turn it on.
 */
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { parseTokens } from "../runtime/host/admin-auth.ts";
import { startDeployHost, type DeployHost } from "../runtime/host/deploy-host.ts";
import { createLogger } from "../runtime/log.ts";
import { TOKEN, get, inProcessDeployHost, runCli, scratchDir, startStoreHost, tokenFile, versionDir } from "./helpers/deploy.ts";
import { freePort } from "./helpers/etcd.ts";
import { eventually } from "./helpers/cluster.ts";
import { adapter } from "./helpers/host.ts";

const test = suite<{ wide: DeployHost; plain: DeployHost; base: string }>(`who may read what on ${adapter.name}`);

/** A host in this process, as `lanes start` makes it. */
const start = async (name: string, o: { hostname: string; token: boolean; data: boolean }) =>
  startDeployHost({
    dir: versionDir(name),
    port: 0,
    hostname: o.hostname,
    dev: false,
    adapter,
    log: createLogger(() => {}),
    tokens: o.token ? await parseTokens(`ci ${TOKEN}`, "test") : [],
    maxUploadBytes: 1024 * 1024,
    ...(o.data ? { data: join(scratchDir("data-"), "store") } : {}),
  });

test.before(async (ctx) => {
  // bound to every address; reached through 127.0.0.1
  ctx.wide = await start("wide", { hostname: "0.0.0.0", token: true, data: false });
  ctx.base = `http://127.0.0.1:${ctx.wide.host.server.port}`;
  ctx.plain = await start("plain", { hostname: "127.0.0.1", token: false, data: true });
});

test.after(async ({ wide, plain }) => {
  await Promise.all([wide?.stop(2000), plain?.stop(2000)]);
});

test("a non-loopback host asks for the token on /_lanes/functions and /_lanes/metrics, never on /_lanes/health", async ({ base }) => {
  for (const path of ["/_lanes/functions", "/_lanes/metrics", "/_lanes/%66unctions"]) {
    const res = await fetch(base + path);
    assert.is(res.status, 401, path);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/, path);
    const wrong = await fetch(base + path, { headers: { authorization: "Bearer not-the-token-at-all" } });
    assert.is(wrong.status, 401, `${path} with a wrong token`);
  }
  for (const path of ["/_lanes/functions", "/_lanes/metrics"]) {
    // (metrics as JSON: the Prometheus text is the default)
    const res = await fetch(base + path, { headers: { authorization: `Bearer ${TOKEN}`, accept: "application/json" } });
    assert.is(res.status, 200, `${path} with the token`);
    assert.ok(Array.isArray(((await res.json()) as { functions: unknown[] }).functions));
  }
  const health = await fetch(`${base}/_lanes/health`);
  assert.is(health.status, 200);
  assert.is((await fetch(`${base}/greet`)).status, 200, "functions stay public");
});

test("a host without a token keeps the admin API off and says how to turn it on; on loopback its lists stay open", async ({ plain: { host } }) => {
  const res = await fetch(`${host.url}/_lanes/api/versions`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.is(res.status, 404);
  assert.match(
    ((await res.json()) as { error: { message: string } }).error.message,
    /admin API is off: this host has no admin token \(start it with --admin-token-file FILE or LANES_ADMIN_TOKEN\)/,
  );
  assert.is((await fetch(`${host.url}/_lanes/functions`)).status, 200);
  const greet = await fetch(`${host.url}/greet`);
  assert.equal([greet.status, greet.headers.get("lanes-version"), await greet.text()], [200, "v1", "plain"]);
});

test("lanes' own routes answer another method than GET with 405 and Allow, not a 404 saying nothing is there", async ({ plain: { host } }) => {
  // ready answers 200 once the start-up load check has ended (503 "starting" until then)
  assert.ok(await eventually(async () => (await fetch(`${host.url}/_lanes/ready`)).status === 200), "ready within 10 s");
  for (const path of ["/_lanes/health", "/_lanes/ready", "/_lanes/metrics", "/_lanes/functions"]) {
    const res = await fetch(host.url + path, { method: "POST", body: "x" });
    const body = (await res.json()) as { error: { code: string } };
    assert.equal([res.status, res.headers.get("allow"), body.error.code], [405, "GET, HEAD", "method_not_allowed"], path);
    assert.is((await fetch(host.url + path, { method: "HEAD" })).status, 200, `HEAD ${path}`);
  }
});

test("lanes deploy --wait to a host whose store is its own (--data) deploys, says so and exits 0: there is no other host to wait for", async () => {
  const host = await startStoreHost(versionDir("own"), join(scratchDir("data-"), "store"), ["--admin-token-file", tokenFile()]);
  try {
    await waitReady(host.url);
    const out = await runCli(["deploy", versionDir("own-2"), "--to", host.url, "--wait"], { LANES_TOKEN: TOKEN });
    assert.is(out.code, 0, out.out);
    assert.match(out.out, /deployed v2 to /);
    assert.match(out.out, /store is its own \(no other hosts\): it serves deployment 2/);
    const json = await runCli(["rollback", "--to", host.url, "--wait", "--json"], { LANES_TOKEN: TOKEN });
    assert.is(json.code, 0, json.out);
    assert.equal(JSON.parse(json.out).wait, { ok: true, revision: 3, hosts: [], allSwitchedMs: null, shared: false, notSwitched: [] });
    assert.is((await get(host.url, "/greet")).version, "v1");
  } finally {
    await host.stop();
  }
});

test("lanes deploy shows a module's load error with its control characters as \\xNN: the host's answer quotes the function, and its escapes went to the terminal as they were", async () => {
  const host = await start("esc", { hostname: "127.0.0.1", token: true, data: true });
  try {
    const dir = versionDir("esc-2", "ok", (m) => {
      (m.functions as Record<string, unknown>).evil = { entry: "evil.ts", lane: "isolate" };
    });
    writeFileSync(join(dir, "evil.ts"), `throw new Error("gone\\x1b]0;owned\\x07\\x1b[2J");\nexport default { fetch: () => new Response("never") };\n`);
    const out = await runCli(["deploy", dir, "--to", host.host.url], { LANES_TOKEN: TOKEN });
    assert.is(out.code, 1, out.out);
    assert.ok(out.out.includes("evil: its module failed to load: gone\\x1b]0;owned\\x07\\x1b[2J"), out.out);
    assert.not.match(out.out, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/, "no control character but line breaks and tabs");
  } finally {
    await host.stop(2000);
  }
});

test("lanes rollback --wait prints a host that did not load the version with its error's control characters as \\xNN: the error quotes a function", async () => {
  // the admin API of a host on a shared store, one of whose hosts failed to load the version
  const error = "evil: its module failed to load: gone\x1b]0;owned\x07\x1b[2J";
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      if (req.url === "/_lanes/api/rollback") {
        res.end(JSON.stringify({ deployment: { revision: 5, stable: "v2", canary: null }, version: "v2", changed: [], unchanged: [], loadMs: 1, switchMs: 1 }));
      } else {
        const failed = { url: "http://10.0.0.2:8787", runtime: "bun", revision: 4, serving: "v3 100%", switchedAt: new Date().toISOString(), failed: { revision: 5, error } };
        res.end(JSON.stringify({ hosts: [failed] }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const out = await runCli(["rollback", "--to", `http://127.0.0.1:${(server.address() as AddressInfo).port}`, "--wait"], { LANES_TOKEN: TOKEN });
    assert.is(out.code, 1, out.out);
    assert.ok(out.out.includes("did not load there: evil: its module failed to load: gone\\x1b]0;owned\\x07\\x1b[2J"), out.out);
    assert.not.match(out.out, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/, "no control character but line breaks and tabs");
  } finally {
    server.close();
  }
});

/** Until /_lanes/ready answers 200: a host with a store takes its admin API on once it has. */
async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await fetch(`${url}/_lanes/ready`)).status === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} never got ready`);
}

test("the host takes its token from LANES_ADMIN_TOKEN and the CLI from LANES_TOKEN", async () => {
  const host = await startStoreHost(versionDir("env"), join(scratchDir("data-"), "store"), [], { LANES_ADMIN_TOKEN: `env ${TOKEN}` });
  try {
    const ok = await runCli(["versions", "--to", host.url, "--json"], { LANES_TOKEN: TOKEN });
    assert.is(ok.code, 0, ok.out);
    assert.equal(
      JSON.parse(ok.out).versions.map((v: { id: string }) => v.id),
      ["v1"],
    );
    const wrong = await runCli(["versions", "--to", host.url, "--json"], { LANES_TOKEN: "not-the-token-0000000" });
    assert.is(wrong.code, 1);
    assert.equal(JSON.parse(wrong.out).error.status, 401);
    assert.not.ok(host.output().includes(TOKEN), "the token is not logged");
  } finally {
    await host.stop();
  }
});

test("while a host with a store and a token starts, its admin API and console say it is starting (503), never that they are off", async () => {
  // The host listens before it has made version 1 of its new store: a script that waits for the
  // port (or `listening on`) and then deploys must not be told the host has no admin token.
  const port = await freePort();
  const starting = inProcessDeployHost({ dir: versionDir("early"), port });
  let done = false;
  const started = starting.finally(() => {
    done = true;
  });
  const seen: string[] = [];
  try {
    while (!done) {
      for (const path of ["/_lanes/api/versions", "/_lanes/ui"]) {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } }).catch(() => undefined);
        if (!res) continue;
        const body = await res.text();
        if (res.status === 200) continue;
        seen.push(`${path} ${res.status} ${res.headers.get("retry-after")} ${body}`);
      }
      // the start runs on this thread: an unpaced loop of refused connects took it from the start
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    await (await started).stop(2000);
  }
  assert.ok(seen.length > 0, "the host answered while it started");
  for (const s of seen) assert.match(s, /^\S+ 503 1 .*"code":"unavailable".*the host is starting/, s);
});

test.run();
