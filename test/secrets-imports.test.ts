/**
 * A function's build reads none of the host's own files. esbuild inlines whatever a module
 * imports `with { type: "text" }`, and the host builds each function itself: a bundle uploaded
 * with `import key from "/path/of/secrets.key" with { type: "text" }` used to be deployed, and
 * its sandboxed process-lane function answered with the host's secrets key (and admin token).
 * Deploys, and the folder a new store takes as version 1, under the runtime running this file.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { uploadBody } from "../runtime/deploy/upload.ts";
import { adapter } from "./helpers/host.ts";
import { cliCommand } from "./helpers/cli.ts";
import { until } from "./helpers/dev.ts";
import { spawnProcess } from "./helpers/spawn.ts";
import { api, get, scratchDir, startStoreHost, tokenFile, versionDir, type StoreHost } from "./helpers/deploy.ts";

const test = suite<{ host: StoreHost; key: string; tokens: string }>(`function builds and the host's own files on ${adapter.name}`);

const encoder = new TextEncoder();
/** A module that answers with the text of `path`, read when it is built. */
const stealing = (path: string) => `import stolen from ${JSON.stringify(path)} with { type: "text" };\nexport default { fetch: () => new Response(stolen) };\n`;

test.before(async (ctx) => {
  ctx.tokens = tokenFile();
  ctx.key = join(scratchDir("key-"), "secrets.key");
  writeFileSync(ctx.key, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
  ctx.host = await startStoreHost(versionDir("imports"), join(scratchDir("data-"), "store"), ["--admin-token-file", ctx.tokens, "--secrets-key-file", ctx.key]);
});

test.after(async ({ host }) => {
  await host?.stop();
});

test("a deployed bundle that imports the secrets key, the admin token file or any file outside its version is refused (400), and nothing changes", async (ctx) => {
  const outside = join(scratchDir("outside-"), "note.txt");
  writeFileSync(outside, `not the function's: ${randomBytes(8).toString("hex")}\n`);
  const before = await api(ctx.host.url, "GET", "versions");
  for (const [path, message] of [
    [ctx.key, /steal: imports \S*secrets\.key, this host's --secrets-key-file, which no function may read/],
    [ctx.tokens, /steal: imports \S+, this host's --admin-token-file, which no function may read/],
    [outside, /steal: imports \S*note\.txt, outside its version's folder \(version v\d+\) \(a deployed version holds all its code\)/],
  ] as const) {
    const manifest = { functions: { steal: { entry: "bundles/steal.mjs", lane: "process" } } };
    const files = new Map([
      ["lanes.json", encoder.encode(JSON.stringify(manifest))],
      ["bundles/steal.mjs", encoder.encode(stealing(path))],
    ]);
    const r = await api(ctx.host.url, "POST", "deploy", uploadBody(files, { tag: null, message: null, percent: 100, ifVersion: null, autoRollback: false }));
    assert.equal([r.status, r.json.error?.code], [400, "load_failed"], r.text);
    assert.match(r.json.error!.message, message);
    assert.not.ok(r.text.includes(readFileSync(path, "utf8").trim()), "the answer does not hold the file");
    const steal = await get(ctx.host.url, "/steal");
    assert.is(steal.status, 404, steal.text);
  }
  assert.equal((await api(ctx.host.url, "GET", "versions")).json, before.json, "versions and deployments are as they were");
});

test("a new store refuses a folder whose function imports the secrets key as version 1, and keeps no copy of the key", async (ctx) => {
  const dir = scratchDir("v1-");
  writeFileSync(join(dir, "steal.mjs"), stealing(ctx.key));
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions: { steal: { entry: "steal.mjs", lane: "process" } } }));
  const data = join(scratchDir("data-"), "store");
  const [cmd, args] = cliCommand(["start", dir, "--data", data, "--port", "0", "--secrets-key-file", ctx.key]);
  const child = spawnProcess(cmd, args, { ...(process.env as Record<string, string>), NO_COLOR: "1" });
  let out = "";
  child.onOutput((t) => (out += t));
  let code: number | null | undefined;
  void child.exited.then((e) => (code = e.code));
  // a host that took the folder serves it: stopped (this child, by its PID) once it says so
  const ended = await until(
    () => (code !== undefined ? "exited" : /listening on/.test(out) ? "started" : undefined),
    60_000,
    () => out,
  );
  if (ended === "started") {
    child.kill("SIGKILL");
    await child.exited;
  }
  assert.equal([ended, code], ["exited", 1], out);
  assert.match(out, /functions\.steal: imports \S*secrets\.key, this host's --secrets-key-file, which no function may read/);
  const key = readFileSync(ctx.key, "utf8").trim();
  const holding: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (readFileSync(p, "latin1").includes(key)) holding.push(p);
    }
  };
  walk(data);
  assert.equal(holding, [], "no file of the store holds the key");
});

test.run();
