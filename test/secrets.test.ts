/**
 * Secrets on a host with a deploy store, as users keep them: `lanes start --data
 * --secrets-key-file` in its own process under the runtime running this file, `lanes secret`
 * (the CLI, the value on its stdin) and the admin API, functions in both lanes that report the
 * SHA-256 of what they got. Every value is looked for in every log line, API answer and file of
 * the store, and must be in none.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, cpSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { secretsKeys } from "../runtime/cli/start.ts";
import { adapter, fixtures } from "./helpers/host.ts";
import {
  api,
  deploy,
  get,
  runCli,
  runCliWithInput,
  runHostCli,
  scratchDir,
  PACE_MS,
  sleep,
  startStoreHost,
  steadyLoad,
  tokenFile,
  TOKEN,
  type Answer,
  type Sample,
  type StoreHost,
} from "./helpers/deploy.ts";

interface Ctx {
  host: StoreHost;
  data: string;
  key: string;
  tokens: string;
  /** Every admin API answer and CLI output so far: no value may be in one. */
  seen: string[];
}
const test = suite<Ctx>(`secrets on ${adapter.name}`);

const value = (what: string) => `${what}-${randomBytes(12).toString("hex")}`;
const VALUES = { api: value("api-key"), other: value("other-key"), rotated: value("rotated-key"), unused: value("unused") };
const sha = (text: string) => createHash("sha256").update(text).digest("hex");

interface Report {
  lane: string;
  hashes: Record<string, string>;
  processEnv: string[];
  environBlockHoldsAValue: boolean;
}

/** A version whose functions name secrets (`names` false: v1, which names none). */
function versionWith(names: boolean, extra: Record<string, unknown> = {}): string {
  const dir = scratchDir("secrets-");
  cpSync(join(fixtures, "secret.ts"), join(dir, "secret.ts"));
  const key = (name: string) => (names ? { secret: name } : "not a secret");
  const functions = {
    api: { entry: "secret.ts", lane: "isolate", instances: { min: 1, max: 2 }, env: { API_KEY: key("API_KEY"), PLAIN: "plain-value" } },
    "api-proc": { entry: "secret.ts", lane: "process", instances: { min: 1, max: 2 }, env: { API_KEY: key("API_KEY") } },
    // its own API_KEY, set with --function other: it never sees the one for every function
    other: { entry: "secret.ts", lane: "process", env: { TOKEN: key("API_KEY"), OTHER: key("OTHER_KEY") } },
    none: { entry: "secret.ts", lane: "isolate" },
    ...extra,
  };
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions }, null, 2));
  return dir;
}

const cli = async (ctx: Ctx, args: string[], input?: string) => {
  const all = [...args, "--to", ctx.host.url, "--token-file", ctx.tokens];
  const r = input === undefined ? await runCli(all) : await runCliWithInput(all, input);
  ctx.seen.push(r.out);
  return r;
};
const call = async (ctx: Ctx, method: "GET" | "PUT" | "DELETE", path: string, body?: object, token: string | null = TOKEN): Promise<Answer> => {
  const res = await fetch(`${ctx.host.url}/_lanes/api/${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  ctx.seen.push(text);
  return { status: res.status, version: null, text, json: JSON.parse(text) };
};
const report = async (ctx: Ctx, fn: string): Promise<Report> => {
  const s = await get(ctx.host.url, `/${fn}`);
  ctx.seen.push(s.text);
  assert.is(s.status, 200, `${fn}: ${s.text}`);
  return JSON.parse(s.text) as Report;
};

test.before(async (ctx) => {
  ctx.seen = [];
  ctx.tokens = tokenFile();
  ctx.key = join(scratchDir("key-"), "secrets.key");
  writeFileSync(ctx.key, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
  ctx.data = join(scratchDir("data-"), "store");
  ctx.host = await startStoreHost(versionWith(false), ctx.data, ["--admin-token-file", ctx.tokens, "--secrets-key-file", ctx.key, "--log", "json"]);
});

test.after(async ({ host }) => {
  await host?.stop();
});

test("the secret routes answer 401 without the admin token or with a wrong one, and change nothing", async (ctx) => {
  for (const token of [null, "wrong-token-0000000000000"]) {
    for (const [method, path, body] of [
      ["GET", "secrets"],
      ["PUT", "secrets/API_KEY", { value: VALUES.unused }],
      ["DELETE", "secrets/API_KEY"],
    ] as const) {
      const r = await call(ctx, method, path, body, token);
      assert.is(r.status, 401, `${method} ${path} with ${token ? "a wrong" : "no"} token`);
    }
  }
  const list = await call(ctx, "GET", "secrets");
  assert.equal([list.status, list.json.secrets], [200, []], "nothing was set");
});

test("lanes secret set takes the value from stdin only; list shows names, scope and times, never values", async (ctx) => {
  const set = await cli(ctx, ["secret", "set", "API_KEY"], `${VALUES.api}\n`);
  assert.is(set.code, 0, set.out);
  assert.match(set.out, /set API_KEY on http:\/\/127\.0\.0\.1:\d+; no serving function uses it/);
  for (const [name, fn] of [
    ["API_KEY", "other"],
    ["OTHER_KEY", "other"],
  ]) {
    const r = await call(ctx, "PUT", `secrets/${name}?function=${fn}`, { value: VALUES.other });
    assert.equal([r.status, r.json.function], [200, fn], r.text);
  }
  const refused: [string, object, RegExp][] = [
    ["secrets/9LIVES", { value: "x" }, /name: a secret name is a letter or _, then letters, digits or _, at most 128 in all \(got "9LIVES"\)/],
    ["secrets/EMPTY", { value: "" }, /value: is empty/],
    ["secrets/NUL", { value: "a\0b" }, /value: must not hold a NUL character/],
    ["secrets/LONE", { value: "ab\ud800cd" }, /value: must be UTF-8 text \(it holds a lone surrogate/],
    ["secrets/EXTRA", { value: "x", secret: "y" }, /secret: unknown field \(allowed: value\)/],
    ["secrets/SCOPE?function=..%2Fx", { value: "x" }, /function \(query\): must be a function name/],
    ["secrets/TWICE?function=other&function=hello", { value: "x" }, /function \(query\): name one function \(got 2\)/],
  ];
  for (const [path, body, message] of refused) {
    const r = await call(ctx, "PUT", path, body);
    assert.equal([r.status, r.json.error?.code], [400, "bad_request"], path);
    assert.match(r.json.error!.message, message);
  }
  const list = await cli(ctx, ["secret", "list"]);
  assert.is(list.code, 0, list.out);
  assert.match(list.out, /^NAME\s+FOR\s+UPDATED\s+BY\s+USED BY\nAPI_KEY\s+\(every function\)\s+\S+Z\s+ci\s+-\nAPI_KEY\s+other\s+\S+Z\s+ci\s+-\nOTHER_KEY\s+other/);
  const json = await call(ctx, "GET", "secrets");
  const secrets = json.json.secrets as { name: string; function: string | null; author: string; updatedAt: string }[];
  assert.equal(
    secrets.map((x) => [x.name, x.function, x.author]),
    [
      ["API_KEY", null, "ci"],
      ["API_KEY", "other", "ci"],
      ["OTHER_KEY", "other", "ci"],
    ],
  );
  assert.ok(
    secrets.every((x) => !Number.isNaN(Date.parse(x.updatedAt))),
    "each says when it changed",
  );
});

test("a deploy naming a secret that has no value is refused, naming it, and changes nothing", async (ctx) => {
  const before = await api(ctx.host.url, "GET", "versions");
  const r = await deploy(ctx.host.url, versionWith(true, { late: { entry: "secret.ts", env: { DB: { secret: "DB_PASSWORD" } } } }));
  ctx.seen.push(r.text);
  assert.equal([r.status, r.json.error?.code], [400, "missing_secret"], r.text);
  assert.match(r.json.error!.message, /functions\.late\.env\.DB: secret DB_PASSWORD has no value on this host \(set it with: lanes secret set DB_PASSWORD/);
  assert.equal((await api(ctx.host.url, "GET", "versions")).json, before.json, "versions and deployments are as they were");
});

test("functions read their secrets in both lanes; each gets exactly the ones it names, its own first, none in its process's environment block", async (ctx) => {
  const r = await deploy(ctx.host.url, versionWith(true));
  ctx.seen.push(r.text);
  assert.is(r.status, 201, r.text);
  const api1 = await report(ctx, "api");
  assert.equal(api1.hashes, { API_KEY: sha(VALUES.api), PLAIN: sha("plain-value") });
  assert.ok(api1.processEnv.includes("API_KEY"), "process.env holds it too");
  const proc = await report(ctx, "api-proc");
  assert.equal([proc.lane, proc.hashes], ["process", { API_KEY: sha(VALUES.api) }]);
  const other = await report(ctx, "other");
  assert.equal(other.hashes, { TOKEN: sha(VALUES.other), OTHER: sha(VALUES.other) }, "its own API_KEY, not the one for every function");
  const none = await report(ctx, "none");
  assert.equal([none.hashes, none.processEnv], [{}, []], "a function that names no secret gets none");
  for (const rep of [api1, proc, other]) assert.is(rep.environBlockHoldsAValue, false, `${rep.lane}: no value in /proc/self/environ`);
});

test("setting a secret under load restarts the functions that use it onto the new value with 0 failed requests", async (ctx) => {
  const load = steadyLoad(ctx.host.url, ["/api", "/api-proc"], 2, PACE_MS);
  let samples: Sample[] = [];
  let done = 0;
  try {
    await sleep(300);
    const r = await cli(ctx, ["secret", "set", "API_KEY", "--json"], VALUES.rotated);
    done = Date.now();
    assert.is(r.code, 0, r.out);
    assert.equal(JSON.parse(r.out).restarted.sort(), ["api", "api-proc"], "other has its own API_KEY: untouched");
    await sleep(300);
  } finally {
    samples = await load.stop();
  }
  ctx.seen.push(...samples.map((s) => s.text));
  assert.equal(
    samples.filter((s) => s.status !== 200),
    [],
    "no request failed",
  );
  const hashOf = (s: Sample) => (JSON.parse(s.text) as Report).hashes.API_KEY;
  for (const path of ["/api", "/api-proc"]) {
    const mine = samples.filter((s) => s.path === path);
    assert.ok(
      mine.some((s) => hashOf(s) === sha(VALUES.api)),
      `${path} answered with the old value before`,
    );
    const after = mine.filter((s) => s.started > done);
    assert.ok(after.length > 0 && after.every((s) => hashOf(s) === sha(VALUES.rotated)), `${path}: every request after the set has the new value`);
  }
  assert.equal((await report(ctx, "other")).hashes.TOKEN, sha(VALUES.other));
});

test("deleting a secret a serving function needs is refused (409); deleting a function's own one falls back to the one for every function", async (ctx) => {
  const inUse = await call(ctx, "DELETE", "secrets/API_KEY");
  assert.equal([inUse.status, inUse.json.error?.code], [409, "conflict"]);
  assert.match(inUse.json.error!.message, /secret API_KEY is used by api, api-proc: deploy a version that does not name it first/);
  const own = await cli(ctx, ["secret", "delete", "API_KEY", "--function", "other"]);
  assert.is(own.code, 0, own.out);
  assert.match(own.out, /deleted API_KEY \(function other\) .*restarted other onto it/);
  assert.equal((await report(ctx, "other")).hashes.TOKEN, sha(VALUES.rotated), "now the one for every function");
  const gone = await call(ctx, "DELETE", "secrets/NEVER_SET");
  assert.equal([gone.status, gone.json.error?.code], [404, "not_found"]);
});

test("no secret value is in any log line, admin API answer, function list, metrics, or file of the store", async (ctx) => {
  for (const path of ["/_lanes/functions", "/_lanes/metrics"]) ctx.seen.push(await (await fetch(ctx.host.url + path)).text());
  ctx.seen.push((await api(ctx.host.url, "GET", "versions")).text, (await api(ctx.host.url, "GET", "deployment")).text);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else files.push(p);
    }
  };
  walk(ctx.data);
  assert.ok(
    files.some((f) => f.includes("/secrets/all/API_KEY.json")),
    "the store keeps the secret",
  );
  for (const [what, v] of Object.entries(VALUES)) {
    const where = [
      ...files.filter((f) => readFileSync(f, "latin1").includes(v)),
      ...(ctx.host.output().includes(v) ? ["the host's output"] : []),
      ...ctx.seen.filter((t) => t.includes(v)).map((t) => `an answer: ${t.slice(0, 200)}`),
    ];
    assert.equal(where, [], `the ${what} value is nowhere`);
  }
  assert.ok(ctx.seen.length > 20, `${ctx.seen.length} answers looked at`);
});

test("a restart with the same key serves the secrets again; a wrong key or none stops the host and changes nothing; a short, missing or loose key file is refused", async (ctx) => {
  await ctx.host.stop();
  const snapshot = () =>
    readdirSync(join(ctx.data, "secrets", "all"))
      .map((f) => readFileSync(join(ctx.data, "secrets", "all", f), "utf8"))
      .join();
  const before = snapshot();
  const dir = scratchDir("keys-");
  const wrong = join(dir, "wrong.key");
  writeFileSync(wrong, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
  for (const [flags, message] of [
    [["--secrets-key-file", wrong], /--secrets-key-file .*wrong\.key: 2 of the 2 secret\(s\) in .* were sealed with another key .*Nothing was changed/],
    [[], /keeps 2 sealed secret\(s\) \(secret API_KEY, secret OTHER_KEY of function other\): start the host with --secrets-key-file FILE/],
  ] as const) {
    const r = await runHostCli(["start", versionWith(false), "--data", ctx.data, "--port", "0", ...flags]);
    assert.is(r.code, 1, r.out);
    assert.ok(message.test(r.out), r.out);
    assert.not.match(r.out, /listening on/);
  }
  // what lanes start reads the key file with, on this runtime
  const short = join(dir, "short.key");
  writeFileSync(short, `${randomBytes(16).toString("hex")}\n`, { mode: 0o600 });
  const loose = join(dir, "loose.key");
  writeFileSync(loose, readFileSync(ctx.key));
  chmodSync(loose, 0o644);
  for (const [file, message] of [
    [short, /short\.key:1: the key is 16 bytes; AES-256 needs 32/],
    [loose, /loose\.key: can be read or changed by every user \(mode 644\); only its owner may: chmod 600/],
    [join(dir, "missing.key"), /missing\.key: no such file \(make one: \(umask 077; openssl rand -hex 32 > FILE\)\)/],
    [dir, /keys-\w+: is not a regular file/],
  ] as const) {
    const e = await secretsKeys(adapter, file, "start").then(
      () => undefined,
      (err: Error) => err,
    );
    assert.ok(e && message.test(e.message), `${file}: ${e?.message}`);
  }
  assert.is(snapshot(), before, "the sealed secrets are as they were");
  // the restart with the right key comes after the refused ones: one host start less, and it
  // shows they left the store as it was
  ctx.host = await startStoreHost(versionWith(false), ctx.data, ["--admin-token-file", ctx.tokens, "--secrets-key-file", ctx.key]);
  assert.equal((await report(ctx, "api")).hashes.API_KEY, sha(VALUES.rotated));
  assert.is(snapshot(), before, "the sealed secrets are as they were after the restart too");
});

test.run();
