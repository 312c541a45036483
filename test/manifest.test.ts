/**
 * Manifest errors: each names the field path and the rule, all problems at once, and the
 * CLI exits non-zero with the message and no stack trace.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadManifest } from "../runtime/manifest/load.ts";
import { adapter } from "./helpers/host.ts";
import { cliCommand } from "./helpers/cli.ts";

const dirs: string[] = [];
function folder(manifest: unknown, files: Record<string, string> = { "a.ts": "export default { fetch: () => new Response('a') }" }) {
  const dir = mkdtempSync(join(tmpdir(), "lanes-manifest-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, "lanes.json"), typeof manifest === "string" ? manifest : JSON.stringify(manifest, null, 2));
  return dir;
}
async function problems(manifest: unknown, files?: Record<string, string>): Promise<string> {
  try {
    await loadManifest(folder(manifest, files), adapter.sys, adapter.name);
  } catch (e) {
    assert.is((e as { code?: string }).code, "invalid_manifest");
    return (e as Error).message;
  }
  throw new Error("the manifest was accepted");
}

test("a negative timeoutMs names the path, the rule and the value", async () => {
  const msg = await problems({ functions: { resize: { entry: "a.ts", timeoutMs: -5 } } });
  assert.match(msg, /functions\.resize\.timeoutMs: must be a positive integer \(got -5\)/);
});

test("a timeoutMs past what timers can hold, or not finite, names the bound", async () => {
  for (const bad of [2147483648, 1e308]) {
    const msg = await problems({ functions: { a: { entry: "a.ts", timeoutMs: bad } } });
    assert.match(msg, new RegExp(`functions\\.a\\.timeoutMs: must be at most 900000 \\(got ${String(bad).replace("+", "\\+")}\\)`));
  }
});

test("every number has a sane maximum: 500 warm instances are refused before any starts", async () => {
  const msg = await problems({ functions: { a: { entry: "a.ts", instances: { min: 500, max: 500 }, concurrency: 1e6, memoryMb: 1e6, maxBodyBytes: 1e12 } } });
  assert.match(msg, /functions\.a\.instances\.min: must be at most 128 \(got 500\)/);
  assert.match(msg, /functions\.a\.instances\.max: must be at most 128 \(got 500\)/);
  assert.match(msg, /functions\.a\.concurrency: must be at most 10000/);
  assert.match(msg, /functions\.a\.memoryMb: must be at most 16384/);
  assert.match(msg, /functions\.a\.maxBodyBytes: must be at most 1073741824/);
});

test("a method that does not exist names the methods there are", async () => {
  const msg = await problems({ functions: { a: { entry: "a.ts", methods: ["FETCH"] } } });
  assert.match(msg, /functions\.a\.methods\.0: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS \(got "FETCH"\)/);
});

test("a key that appears twice is refused with its line, not silently overwritten", async () => {
  const text = '{\n  "functions": {\n    "a": { "entry": "a.ts" },\n    "a": { "entry": "b.ts" }\n  }\n}\n';
  const msg = await problems(text);
  assert.match(msg, /lanes\.json:4:5: Duplicate key "a": each key may appear once/);
});

test("an unknown field is an error that suggests the near spelling", async () => {
  const msg = await problems({ functions: { a: { entry: "a.ts", timeoutMS: 5 } } });
  assert.match(msg, /functions\.a\.timeoutMS: unknown field \(did you mean "timeoutMs"\?\)/);
});

test("a wrong lane, runtime and env value are all reported at once", async () => {
  const msg = await problems({ functions: { a: { entry: "a.ts", lane: "thread", runtime: "python", env: { N: 1 } } } });
  assert.match(msg, /functions\.a\.lane: must be "isolate" or "process" \(got "thread"\)/);
  assert.match(msg, /functions\.a\.runtime: must be "node", "bun" or "deno" \(got "python"\)/);
  assert.match(msg, /functions\.a\.env\.N: must be a string, or \{"secret": "NAME"\} to take the value from a secret \(got 1\)/);
});

test("a missing entry field, and an entry file that does not exist, are refused", async () => {
  assert.match(await problems({ functions: { a: { lane: "isolate" } } }), /functions\.a\.entry: is required/);
  assert.match(await problems({ functions: { a: { entry: "nope.ts" } } }), /functions\.a\.entry: file not found: .*nope\.ts/);
});

test("an entry outside the manifest's folder is refused, by path or by symlink", async () => {
  assert.match(await problems({ functions: { a: { entry: "../outside.ts" } } }), /functions\.a\.entry: must resolve inside the manifest's folder/);
  const outside = mkdtempSync(join(tmpdir(), "lanes-outside-"));
  dirs.push(outside);
  writeFileSync(join(outside, "x.ts"), "export default () => new Response('x')");
  const dir = folder({ functions: { a: { entry: "link.ts" } } });
  symlinkSync(join(outside, "x.ts"), join(dir, "link.ts"));
  const msg = await loadManifest(dir, adapter.sys, adapter.name).then(
    () => "accepted",
    (e: Error) => e.message,
  );
  assert.match(msg, /functions\.a\.entry: must not link outside the manifest's folder/);
});

test("routes under /_lanes/ are reserved", async () => {
  const msg = await problems({ functions: { a: { entry: "a.ts", route: "/_lanes/mine" } } });
  assert.match(msg, /functions\.a\.route: paths under \/_lanes\/ are reserved/);
});

test("two functions on the same route and method clash, whatever their param names", async () => {
  const msg = await problems({
    functions: {
      a: { entry: "a.ts", route: "/users/:id", methods: ["GET", "POST"] },
      b: { entry: "a.ts", route: "/users/:name", methods: ["POST"] },
    },
  });
  assert.match(msg, /functions\.b\.route: "\/users\/:name" POST is already served by function "a"/);
});

test("an optional parameter's route also stands for the path without it, and clashes there", async () => {
  const msg = await problems({ functions: { a: { entry: "a.ts", route: "/a/:id?" }, b: { entry: "a.ts", route: "/a", methods: ["GET"] } } });
  assert.match(msg, /functions\.b\.route: "\/a" GET is already served by function "a"/);
  const fine = await loadManifest(folder({ functions: { a: { entry: "a.ts", route: "/a/:id?" }, b: { entry: "a.ts", route: "/b" } } }), adapter.sys, adapter.name);
  assert.equal(
    fine.functions.map((f) => f.route),
    ["/a/:id?", "/b"],
  );
});

test("a function at a plain path that an earlier function's pattern answers first is refused as never reached; declared first, or on other methods, it is fine", async () => {
  const msg = await problems({ functions: { x: { entry: "a.ts", route: "/:name" }, b: { entry: "a.ts", route: "/b" } } });
  assert.ok(msg.includes('functions.b.route: "/b" is never reached: function "x" ("/:name"), earlier in the manifest, answers it first'), msg);
  const api = await problems({ functions: { all: { entry: "a.ts", route: "/api/*" }, one: { entry: "a.ts", route: "/api/one" } } });
  assert.match(api, /functions\.one\.route: "\/api\/one" is never reached: function "all"/);
  for (const functions of [
    { b: { entry: "a.ts", route: "/b" }, x: { entry: "a.ts", route: "/:name" } },
    { x: { entry: "a.ts", route: "/:name", methods: ["POST"] }, b: { entry: "a.ts", route: "/b", methods: ["GET"] } },
  ]) {
    const m = await loadManifest(folder({ functions }), adapter.sys, adapter.name);
    assert.is(m.functions.length, 2);
  }
});

test('a route with a "?" or "#" (never in a request\'s path) is refused, not accepted and never reached; an optional parameter and a {...} part may hold "?"', async () => {
  for (const route of ["/a?x=1", "/a#top", "/a/b?"]) {
    const msg = await problems({ functions: { a: { entry: "a.ts", route } } });
    assert.ok(
      msg.includes(
        `functions.a.route: a route is matched against the request's path, which never holds a "?" (it starts the query) or a "#" (the fragment): take it out (got ${JSON.stringify(route)})`,
      ),
      msg,
    );
  }
  for (const route of ["/a/:id?", "/b/:x?/:y?", "/c/:id{[0-9]+?}", "/d/:id{(?:x|y)}"]) {
    const ok = await loadManifest(folder({ functions: { a: { entry: "a.ts", route } } }), adapter.sys, adapter.name);
    assert.is(ok.functions[0]!.route, route);
  }
});

test("a route that names a parameter twice is refused, naming the parameter and the rule: the function would get one of the two values", async () => {
  for (const route of ["/a/:id/:id", "/a/:id/b/:id{[0-9]+}", "/a/:id/:id?"]) {
    const msg = await problems({ functions: { a: { entry: "a.ts", route } } });
    assert.ok(
      msg.includes(
        `functions.a.route: the parameter ":id" is named twice, and the function would get one of its two values: give each parameter its own name (got ${JSON.stringify(route)})`,
      ),
      msg,
    );
  }
  const ok = await loadManifest(folder({ functions: { a: { entry: "a.ts", route: "/a/:id/:ids/*/:x{[0-9]+}/:y?" } } }), adapter.sys, adapter.name);
  assert.is(ok.functions[0]!.route, "/a/:id/:ids/*/:x{[0-9]+}/:y?");
});

test("a route whose {...} part is not a regular expression is refused, naming the function and the rule", async () => {
  for (const route of ["/x/:id{(}", "/x/:id{[}", "/x/:id{\\}"]) {
    const msg = await problems({ functions: { hello: { entry: "a.ts" }, re: { entry: "a.ts", route } } });
    assert.match(msg, /functions\.re\.route: the part in \{\.\.\.\} must be a valid regular expression: .*Invalid regular expression/);
    assert.not.match(msg, /functions\.hello/);
  }
  const ok = await loadManifest(folder({ functions: { re: { entry: "a.ts", route: "/x/:id{[0-9]+}" } } }), adapter.sys, adapter.name);
  assert.is(ok.functions[0]!.route, "/x/:id{[0-9]+}");
});

test("a route whose {...} part could take the host's thread for seconds on one request is refused, naming the rule; linear ones pass", async () => {
  // each of these froze every function of a host: /r/:x{(a+)+$} for 12 s on a path of 31 characters
  const slow: [string, RegExp][] = [
    ["/r/:x{(a+)+$}", /the part \{\(a\+\)\+\$\}: "\(a\+\)\+": a repeated group can take exponential time to fail/],
    ["/r/:x{(a|aa)*b}", /"\(a\|aa\)\*": a repeated group/],
    ["/r/:x{(\\d)\\1}", /"\\1": a back-reference/],
    ["/r/:x{\\d+\\d+z}", /"\\d\+" and "\\d\+" can take the same characters with nothing between them that neither takes/],
    ["/r/:a{.+}/:b{.+}/end", /the part \{\.\+\}: "\.\+" can take a "\/", which only the route's last part may/],
    ["/r/:a{.*}/:b{[a-z]{2}}/end", /"\.\*" can take a "\/", which only the route's last part may/],
    // found by a seeded fuzz of random parts against Hono's routers (each took 5-150 s on a 4,000-character path)
    ["/r/:a{[^/]*/*[^/]*}", /"\[\^\/\]\*" and "\[\^\/\]\*" can take the same characters/],
    ["/r/:a{ww{1,}[^/]+?}", /a \{\.\.\.\} part that holds a \{n,m\} may not hold a "\/" after it/],
  ];
  for (const [route, rule] of slow) {
    const msg = await problems({ functions: { hello: { entry: "a.ts" }, re: { entry: "a.ts", route } } });
    assert.ok(msg.includes(`functions.re.route: `) && rule.test(msg), `${route}: ${msg}`);
    assert.not.match(msg, /functions\.hello/);
  }
  const fine = [
    "/p/:date{[0-9]+}/:title{[a-z]+}",
    "/f/:path{.+\\.png}",
    "/s/:slug{[a-z]+-[0-9]+}",
    "/n/:id{[0-9]{1,5}}",
    "/o/:kind{(?:foo|bar)}",
    "/w/:a{[^/]+}/:rest{.*}",
    "/a/*/b/*",
  ];
  const ok = await loadManifest(folder({ functions: Object.fromEntries(fine.map((route, i) => [`f${i}`, { entry: "a.ts", route }])) }), adapter.sys, adapter.name);
  assert.equal(
    ok.functions.map((f) => f.route),
    fine,
  );
});

test("a manifest nested more than 32 levels deep is refused naming where, not answered with a crash", async () => {
  const deepEnv = `{"functions":{"a":{"entry":"a.ts","env":${'{"x":'.repeat(50_000)}1${"}".repeat(50_000)}}}}`;
  const msg = await problems(deepEnv);
  assert.match(msg, /lanes\.json:1:\d+: invalid manifest: nested more than 32 levels deep/);
  const arrays = `{\n  "functions": {},\n  "x": ${"[".repeat(100_000)}${"]".repeat(100_000)}\n}`;
  assert.match(await problems(arrays), /lanes\.json:3:\d+: invalid manifest: nested more than 32 levels deep/);
  // brackets inside strings are not nesting
  const m = await loadManifest(folder({ functions: { a: { entry: "a.ts", env: { X: "[[[[".repeat(100) } } } }), adapter.sys, adapter.name);
  assert.is(m.functions[0]!.env.X, "[[[[".repeat(100));
});

test("a manifest saved with a byte order mark is read like one without", async () => {
  const m = await loadManifest(folder(`\ufeff${JSON.stringify({ functions: { a: { entry: "a.ts" } } })}`), adapter.sys, adapter.name);
  assert.equal(
    m.functions.map((f) => f.name),
    ["a"],
  );
  const msg = await problems(`\ufeff{"functions": {"a": {"entry": "a.ts"}, "a": {"entry": "a.ts"}}}`);
  assert.match(msg, /lanes\.json:1:40: Duplicate key "a": each key may appear once/);
});

test("the same route with different methods is allowed", async () => {
  const m = await loadManifest(
    folder({ functions: { a: { entry: "a.ts", route: "/x", methods: ["GET"] }, b: { entry: "a.ts", route: "/x", methods: ["POST"] } } }),
    adapter.sys,
    adapter.name,
  );
  assert.is(m.functions.length, 2);
});

test("malformed JSON is reported with line and column", async () => {
  const msg = await problems('{\n  "functions": {\n    "a": { "entry": "a.ts", }\n  }\n}');
  assert.match(msg, /lanes\.json:3:\d+: invalid JSON/);
});

test("instances.min above instances.max is refused", async () => {
  const msg = await problems({ functions: { a: { entry: "a.ts", instances: { min: 3, max: 1 } } } });
  assert.match(msg, /functions\.a\.instances\.min: must be <= instances\.max \(got min 3, max 1\)/);
});

test("a function name with spaces is refused", async () => {
  const msg = await problems({ functions: { "my fn": { entry: "a.ts" } } });
  assert.match(msg, /functions\.my fn: a function name may only hold letters, digits, _ and -/);
});

test("defaults fill every field the manifest leaves out", async () => {
  const m = await loadManifest(folder({ functions: { a: { entry: "a.ts" } } }), adapter.sys, adapter.name);
  const f = m.functions[0]!;
  assert.is(f.route, "/a");
  assert.is(f.lane, "isolate");
  assert.is(f.methods, null);
  assert.equal(f.instances, { min: 0, max: 2, idleMs: 30_000 });
  assert.equal([f.env, f.secrets], [{}, {}]);
  assert.is(f.runtime, adapter.name);
});

test('an env value {"secret": NAME} names a secret, never holds a value; a bad one is refused naming what is wrong inside it', async () => {
  const m = await loadManifest(folder({ functions: { a: { entry: "a.ts", env: { KEY: { secret: "API_KEY" }, MODE: "prod" } } } }), adapter.sys, adapter.name);
  assert.equal([m.functions[0]!.env, m.functions[0]!.secrets], [{ MODE: "prod" }, { KEY: "API_KEY" }]);
  const msg = await problems({ functions: { a: { entry: "a.ts", env: { A: { secret: "9lives" }, B: { secret: "OK", value: "x" } } } } });
  assert.match(msg, /functions\.a\.env\.A\.secret: must be a secret name: a letter or _, then letters, digits or _ \(at most 128\) \(got "9lives"\)/);
  assert.match(msg, /functions\.a\.env\.B: must be a string, or \{"secret": "NAME"\} to take the value from a secret \(got \{"secret":"OK","value":"x"\}\)/);
});

test("an env value with a NUL, or an env name that is empty or holds = or a NUL, is refused in either lane by lanes validate, naming the field and the rule", async () => {
  const env = { A: "x\u0000y", "B=C": "z", "": "empty", "D\u0000": "w", OK: "fine" };
  const msg = await problems({ functions: { iso: { entry: "a.ts", env }, proc: { entry: "a.ts", lane: "process", env } } });
  for (const f of ["iso", "proc"]) {
    assert.match(msg, new RegExp(`functions\\.${f}\\.env\\.A: must not hold a NUL character \\(an environment value cannot\\)`));
    for (const name of ['"B=C"', '""', '"D\\u0000"']) {
      assert.ok(msg.includes(`functions.${f}.env: an environment variable's name must not be empty, nor hold "=" or a NUL character (got ${name})`), `${f} ${name}: ${msg}`);
    }
  }
  assert.not.match(msg, /env\.OK/);
  // the process lane's child was spawned with it, and Node's spawn threw a TypeError naming no field
  const [cmd, args] = cliCommand(["validate", folder({ functions: { proc: { entry: "a.ts", lane: "process", env: { A: "x\u0000y" } } } })]);
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /functions\.proc\.env\.A: must not hold a NUL character/);
  assert.not.match(r.stderr, /TypeError/);
});

test("an env value, or a function's whole env, too large for a process's environment is refused in either lane", async () => {
  const big = "x".repeat(32 * 1024 + 1);
  const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`V${i}`, "y".repeat(30 * 1024)]));
  const msg = await problems({ functions: { iso: { entry: "a.ts", env: { BIG: big } }, proc: { entry: "a.ts", lane: "process", env: many } } });
  assert.ok(msg.includes("functions.iso.env.BIG: must be at most 32768 bytes, the cap of an environment value, as of a secret (got 32769)"), msg);
  assert.match(msg, /functions\.proc\.env: its names and values together must be at most 1048576 bytes, as a process's environment \(got 1\d{6}\)/);
});

test("a function name longer than 128 characters is refused (it names files: its bundle, its secrets)", async () => {
  const name = "f".repeat(129);
  const msg = await problems({ functions: { [name]: { entry: "a.ts" } } });
  assert.ok(msg.includes(`functions.${name}: a function name may only hold letters, digits, _ and -, at most 128 of them`), msg);
  const ok = await loadManifest(folder({ functions: { ["f".repeat(128)]: { entry: "a.ts" } } }), adapter.sys, adapter.name);
  assert.is(ok.functions[0]!.name.length, 128);
});

test("lanes start with a bad manifest exits non-zero, names the field, and prints no stack", () => {
  const dir = folder({ functions: { resize: { entry: "a.ts", timeoutMs: -5 } } });
  const [cmd, args] = cliCommand(["start", dir, "--port", "0"]);
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000 });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /functions\.resize\.timeoutMs: must be a positive integer \(got -5\)/);
  assert.not.match(r.stderr, /\n\s+at /);
});

test("lanes validate reports a function that fails to load and exits non-zero", () => {
  const dir = folder(
    { functions: { good: { entry: "a.ts" }, bad: { entry: "b.ts", lane: "process" } } },
    { "a.ts": "export default { fetch: () => new Response('a') }", "b.ts": "export const x = 1;" },
  );
  const [cmd, args] = cliCommand(["validate", dir]);
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /ok\s+good/);
  assert.match(r.stderr, /FAIL bad: .*no default export/);
});

test("lanes validate names a function that does not compile once, and lanes start given a file names it as no folder", () => {
  const dir = folder({ functions: { syn: { entry: "s.ts" } } }, { "s.ts": 'export default { fetch() { return new Response("x" } };' });
  const [cmd, args] = cliCommand(["validate", dir]);
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  assert.is(r.status, 1, r.stderr);
  // it read "FAIL syn: syn: .../s.ts:1:..."
  assert.match(r.stderr, /FAIL syn: \S*s\.ts:1:\d+: Expected "\)" but found "}"/);
  // and `lanes start s.ts` said ".../s.ts/lanes.json: not found"
  const file = join(dir, "s.ts");
  for (const command of ["start", "validate"]) {
    const [c, a] = cliCommand([command, file, "--port", "0"].slice(0, command === "start" ? 4 : 2));
    const started = spawnSync(c, a, { encoding: "utf8", timeout: 30_000 });
    assert.is(started.status, 1, started.stderr);
    assert.ok(started.stderr.includes(`${file} is a file, not a folder: give the folder that holds its lanes.json`), started.stderr);
  }
});

test("an unknown CLI flag is refused with the known ones", () => {
  const [cmd, args] = cliCommand(["start", "--prot", "8787"]);
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000 });
  assert.is(r.status, 2, "a usage error");
  assert.match(
    r.stderr,
    /unknown flag --prot \(known: --port, --host, --log, --no-access-log, --no-metrics, --otlp-endpoint, --header-timeout, --keep-alive-timeout, --strict, --data, --store, --advertise, --cluster-wait, --admin-token-file, --secrets-key-file, --max-upload-mb, --console-host, --trust-proxy, --keep-versions\)/,
  );
});

test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test.run();
