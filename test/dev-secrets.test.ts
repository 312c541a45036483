/**
 * Secret values in `lanes dev`, as a user gives them: `.env` and `.dev.vars` beside lanes.json
 * and `--env-file FILE`, the real CLI under the runtime running this file, functions in both
 * lanes that report the SHA-256 of what they got.
 */
import { createHash } from "node:crypto";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { runCli, startDev, until, type Dev } from "./helpers/dev.ts";
import { adapter, fixtures } from "./helpers/host.ts";
import { scratchDir } from "./helpers/scratch.ts";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

const test = suite<{ dev: Dev; dir: string; envFile: string }>(`lanes dev secrets on ${adapter.name}`);

test.before(async (ctx) => {
  ctx.dir = scratchDir("dev-secrets-");
  cpSync(join(fixtures, "secret.ts"), join(ctx.dir, "secret.ts"));
  const functions = {
    iso: { entry: "secret.ts", env: { API_KEY: { secret: "API_KEY" }, DB: { secret: "DB_URL" }, MODE: "dev" } },
    proc: { entry: "secret.ts", lane: "process", env: { API_KEY: { secret: "API_KEY" } } },
    lacking: { entry: "secret.ts", env: { STRIPE: { secret: "STRIPE_KEY" } } },
  };
  writeFileSync(join(ctx.dir, "lanes.json"), JSON.stringify({ functions }, null, 2));
  writeFileSync(join(ctx.dir, ".env"), "API_KEY=from-dot-env\nDB_URL=postgres://dot-env\n");
  writeFileSync(join(ctx.dir, ".dev.vars"), "# wrangler's name for it\nexport API_KEY='from-dev-vars'\n");
  ctx.envFile = join(scratchDir("env-file-"), "local.env");
  writeFileSync(ctx.envFile, 'DB_URL="postgres://env-file"\n');
  ctx.dev = await startDev(ctx.dir, ["--env-file", ctx.envFile]);
});

test.after(async ({ dev, dir, envFile }) => {
  await dev?.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(join(envFile, ".."), { recursive: true, force: true });
});

const hashes = async (dev: Dev, fn: string) => {
  const res = await fetch(`${dev.url}/${fn}`);
  const text = await res.text();
  assert.is(res.status, 200, text);
  return (JSON.parse(text) as { hashes: Record<string, string> }).hashes;
};

test("--env-file, .dev.vars and .env supply secret values in both lanes, the later over the earlier", async ({ dev }) => {
  assert.equal(await hashes(dev, "iso"), { API_KEY: sha("from-dev-vars"), DB: sha("postgres://env-file"), MODE: sha("dev") });
  assert.equal(await hashes(dev, "proc"), { API_KEY: sha("from-dev-vars") });
  assert.match(dev.output(), /secret values \(never shown\): API_KEY, DB_URL, from .*\.env, .*\.dev\.vars, .*local\.env \(the later file wins\)/);
});

test("a secret with no value is a clear error naming it and where values are looked for; the function answers 503", async ({ dev }) => {
  assert.match(
    dev.output(),
    /functions\.lacking\.env\.STRIPE: secret STRIPE_KEY has no value on this host \(add STRIPE_KEY=\.\.\. to \.dev\.vars or \.env beside lanes\.json, or pass --env-file FILE; looked in .*\.env, .*\.dev\.vars, .*local\.env\)/,
  );
  const res = await fetch(`${dev.url}/lacking`);
  const body = (await res.json()) as { error: { code: string; message: string; stack?: string } };
  assert.equal([res.status, body.error.code], [503, "unavailable"]);
  assert.match(body.error.stack ?? "", /secret STRIPE_KEY has no value/, "lanes dev shows why in the answer too");
});

test("editing the env file reloads the functions whose values changed, and gives the missing one its value", async ({ dev, envFile }) => {
  writeFileSync(envFile, 'DB_URL="postgres://edited"\nSTRIPE_KEY=sk_test_123\n');
  await until(
    async () => (await hashes(dev, "iso")).DB === sha("postgres://edited") || undefined,
    10_000,
    () => dev.output().slice(-2000),
  );
  await until(
    async () => (await fetch(`${dev.url}/lacking`)).status === 200 || undefined,
    10_000,
    () => dev.output().slice(-2000),
  );
  assert.equal(await hashes(dev, "lacking"), { STRIPE: sha("sk_test_123") });
  assert.match(dev.output(), /secret values changed: DB_URL, STRIPE_KEY/);
  assert.match(dev.output(), /reloaded iso \(isolate\): new secret values/);
  assert.not.match(dev.output(), /reloaded proc/, "proc's values did not change");
  for (const v of ["from-dev-vars", "postgres://edited", "sk_test_123", "from-dot-env"]) assert.not.ok(dev.output().includes(v), "no value in the log");
});

test("a sandboxed function granted .env or an --env-file, which hold every function's secrets, is refused: at start, and on a reload that keeps the last good manifest", async ({
  dev,
  dir,
}) => {
  const peek = (grant: string) => ({ entry: "secret.ts", lane: "process", permissions: { read: [grant] } });
  const other = scratchDir("dev-secrets-grant-");
  cpSync(join(fixtures, "secret.ts"), join(other, "secret.ts"));
  writeFileSync(join(other, ".env"), "API_KEY=from-dot-env\n");
  writeFileSync(join(other, "lanes.json"), JSON.stringify({ functions: { peek: peek(".env") } }));
  const refused = runCli(["dev", other, "--port", "0", "--log", "pretty"]);
  let code: number | null | undefined;
  void refused.exited.then((c) => (code = c));
  const ended = await until(
    () => (code !== undefined ? { code } : /listening on/.test(refused.output()) ? "started" : undefined),
    30_000,
    () => refused.output(),
  );
  if (ended === "started") refused.child.kill("SIGKILL"); // by PID: this child only
  assert.is.not(ended, "started", refused.output());
  assert.is.not(code, 0, refused.output());
  assert.match(refused.output(), /functions\.peek\.permissions\.read\.0: grants this host's secrets file .*\.env, which no function may see/);
  rmSync(other, { recursive: true, force: true });
  // the running dev server: a manifest edited to grant .dev.vars is refused, the last good one serves
  const manifest = JSON.parse(readFileSync(join(dir, "lanes.json"), "utf8")) as { functions: Record<string, unknown> };
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions: { ...manifest.functions, peek: peek(".dev.vars") } }));
  await until(
    () => /functions\.peek\.permissions\.read\.0: grants this host's secrets file .*\.dev\.vars[^\n]*[\s\S]*still serving the last good manifest/.test(dev.output()) || undefined,
    10_000,
    () => dev.output().slice(-2000),
  );
  assert.is((await fetch(`${dev.url}/peek`)).status, 404, "peek was never routed");
  assert.equal(await hashes(dev, "proc"), { API_KEY: sha("from-dev-vars") });
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions: manifest.functions }));
});

test("a function that imports .env (which holds every function's secrets) is refused when it is built, not given the file", async ({ dev, dir }) => {
  writeFileSync(join(dir, "slurp.ts"), 'import all from "./.env" with { type: "text" };\nexport default { fetch: () => new Response(all) };\n');
  const manifest = JSON.parse(readFileSync(join(dir, "lanes.json"), "utf8")) as { functions: Record<string, unknown> };
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions: { ...manifest.functions, slurp: { entry: "slurp.ts", lane: "process" } } }));
  const res = await until(
    async () => {
      const r = await fetch(`${dev.url}/slurp`);
      const text = await r.text();
      return r.status === 404 ? undefined : { status: r.status, text };
    },
    10_000,
    () => dev.output().slice(-2000),
  );
  assert.not.ok(res.text.includes("from-dot-env"), `the answer holds .env: ${res.text}`);
  assert.is(res.status, 503, res.text);
  assert.match(dev.output(), /slurp: imports \S*\.env, this host's secrets file, which no function may read/);
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions: manifest.functions }));
  rmSync(join(dir, "slurp.ts"));
});

test.run();
