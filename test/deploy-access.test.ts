/**
 * Who may read what: on a host bound to a non-loopback address, /_lanes/functions and
 * /_lanes/metrics need the admin token and /_lanes/health never does; without a token the
 * admin API is off and says how to turn it on.
 */
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { startCli, type RunningCli } from "./helpers/cli.ts";
import { TOKEN, scratchDir, tokenFile, versionDir } from "./helpers/deploy.ts";
import { adapter } from "./helpers/host.ts";

const test = suite<{ open: RunningCli; plain: RunningCli; base: string }>(`who may read what on ${adapter.name}`);

test.before(async (ctx) => {
  // bound to every address; reached through 127.0.0.1
  ctx.open = await startCli(["start", versionDir("wide"), "--host", "0.0.0.0", "--port", "0", "--admin-token-file", tokenFile()]);
  ctx.base = ctx.open.url.replace("0.0.0.0", "127.0.0.1");
  ctx.plain = await startCli(["start", versionDir("plain"), "--port", "0", "--data", join(scratchDir("data-"), "store")]);
});

test.after(async ({ open, plain }) => {
  for (const h of [open, plain]) {
    h?.kill("SIGTERM");
    await h?.exited;
  }
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
    const res = await fetch(base + path, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.is(res.status, 200, `${path} with the token`);
    assert.ok(Array.isArray(((await res.json()) as { functions: unknown[] }).functions));
  }
  const health = await fetch(`${base}/_lanes/health`);
  assert.is(health.status, 200);
  assert.is((await fetch(`${base}/greet`)).status, 200, "functions stay public");
});

test("a host without a token keeps the admin API off and says how to turn it on; on loopback its lists stay open", async ({ plain }) => {
  const res = await fetch(`${plain.url}/_lanes/api/versions`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.is(res.status, 404);
  assert.match(((await res.json()) as { error: { message: string } }).error.message, /admin API is off: this host has no admin token \(start it with --admin-token-file FILE or LANES_ADMIN_TOKEN\)/);
  assert.is((await fetch(`${plain.url}/_lanes/functions`)).status, 200);
  const greet = await fetch(`${plain.url}/greet`);
  assert.equal([greet.status, greet.headers.get("lanes-version"), await greet.text()], [200, "v1", "plain"]);
});

test.run();
