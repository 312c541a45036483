/**
 * The command line as a user meets it, under the runtime running this file: --version, help,
 * every command's --help listing every flag its parser knows (and the README too), usage errors
 * exiting 2 with the usage, [dir] defaulting to the current folder, lanes new outside the repo.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BENCH_FLAGS } from "../runtime/cli/bench.ts";
import { deployFlags } from "../runtime/cli/deploy.ts";
import { SECRET_FLAGS } from "../runtime/cli/secret.ts";
import { DEV_FLAGS } from "../runtime/cli/dev.ts";
import { LOAD_FLAGS } from "../runtime/cli/load.ts";
import { NEW_FLAGS } from "../runtime/cli/new.ts";
import { START_FLAGS } from "../runtime/cli/start.ts";
import { main } from "../runtime/cli/main.ts";
import { COMMANDS } from "../runtime/cli/usage.ts";
import { cliCommand } from "./helpers/cli.ts";
import { adapter } from "./helpers/host.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
const PARSERS: Record<string, Record<string, string>> = {
  start: START_FLAGS,
  dev: DEV_FLAGS,
  new: NEW_FLAGS,
  validate: {},
  bench: BENCH_FLAGS,
  load: LOAD_FLAGS,
  deploy: deployFlags("deploy"),
  versions: deployFlags("versions"),
  promote: deployFlags("promote"),
  rollback: deployFlags("rollback"),
  secret: SECRET_FLAGS,
  schema: {},
};

/** The real CLI in its own process (what the exit code is, as a shell sees it). */
function spawned(args: string[], cwd = root): { code: number | null; out: string; err: string } {
  const [cmd, argv] = cliCommand(args);
  const r = spawnSync(cmd, argv, { cwd, encoding: "utf8", timeout: 60_000, env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The CLI's main in this process, with the current folder `cwd`: the same code, no process start per case. */
async function lanes(args: string[], cwd = root): Promise<{ code: number | null; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main({ ...adapter, cwd: () => cwd, writeOut: (t) => void (out += t), writeErr: (t) => void (err += t) }, args);
  return { code, out, err };
}

test(`lanes --version prints the version and exits 0 (${adapter.name})`, () => {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  const r = spawned(["--version"]);
  assert.is(r.code, 0, r.err);
  assert.is(r.out.trim(), `lanes ${pkg.version} (${adapter.name} ${adapter.version})`);
});

test("lanes help and lanes --help list every command and exit 0", async () => {
  for (const args of [["help"], ["--help"]]) {
    const r = await lanes(args);
    assert.is(r.code, 0, r.err);
    for (const name of Object.keys(COMMANDS)) assert.match(r.out, new RegExp(`lanes ${name}\\b`));
  }
});

test("every command's --help lists every flag its parser accepts, and exits 0", async () => {
  assert.equal(Object.keys(PARSERS).sort(), Object.keys(COMMANDS).sort(), "every command has its flags checked");
  for (const [name, flags] of Object.entries(PARSERS)) {
    const r = await lanes([name, "--help"]);
    assert.is(r.code, 0, `${name}: ${r.err}`);
    assert.match(r.out, new RegExp(`^usage: lanes ${name}`));
    for (const flag of Object.keys(flags)) assert.ok(r.out.includes(`--${flag}`), `lanes ${name} --help names --${flag}`);
  }
  assert.is((await lanes(["help", "load"])).out, (await lanes(["load", "--help"])).out);
});

test("lanes start --help and lanes dev --help in a shell with other variables print the usage and exit", () => {
  // other variables make a host command start again with a clean environment (adapters/env.ts)
  for (const name of ["start", "dev"]) {
    const [cmd, argv] = cliCommand([name, "--help"]);
    const r = spawnSync(cmd, argv, { cwd: root, encoding: "utf8", timeout: 20_000, env: { ...process.env, NO_COLOR: "1", NOT_FOR_THE_HOST: "1" } });
    assert.is(r.signal, null, `lanes ${name} --help still running after 20 s`);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^usage: lanes ${name}`));
  }
});

test("the README documents every flag of every command", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  for (const [name, flags] of Object.entries(PARSERS)) {
    const at = readme.search(new RegExp(`^### lanes (.*[ ,])?${name}\\b`, "m"));
    assert.ok(at >= 0, `README has a "### lanes ${name}" section`);
    const section = readme.slice(at, readme.indexOf("\n### ", at + 4) >>> 0 || undefined);
    for (const flag of Object.keys(flags)) assert.ok(section.includes(`--${flag}`), `README's lanes ${name} section names --${flag}`);
  }
});

test("an unknown flag exits 2 with the command's usage, for every command", async () => {
  const real = spawned(["start", "--bogus"]);
  assert.is(real.code, 2, real.err);
  assert.match(real.err, /usage: lanes start/);
  for (const name of Object.keys(COMMANDS)) {
    const r = await lanes([name, "--bogus"]);
    assert.is(r.code, 2, `lanes ${name} --bogus: ${r.out}${r.err}`);
    assert.match(r.err, new RegExp(`lanes ${name}: unknown flag --bogus`));
    assert.match(r.err, new RegExp(`usage: lanes ${name}`));
  }
  const extra = await lanes(["schema", "extra"]);
  assert.is(extra.code, 2);
  assert.match(extra.err, /unexpected argument "extra"/);
});

test("a switch given =VALUE takes true or false only: anything else exits 2 naming it, not read as on", async () => {
  // --json=nope was --json, and --auto-rollback=no turned auto-rollback on
  for (const args of [
    ["versions", "--to", "http://127.0.0.1:9", "--json=nope"],
    ["secret", "list", "--to", "http://127.0.0.1:9", "--json=0"],
    ["deploy", "--auto-rollback=no", "--to", "http://127.0.0.1:9"],
    // (the bad --port stops it before it serves, whatever --strict=no does)
    ["start", "--strict=no", "--port", "-1"],
  ]) {
    const r = await lanes(args);
    const [, flag, value] = /--([a-z-]+)=(.*)/.exec(args.find((a) => a.includes("="))!)!;
    assert.is(r.code, 2, `lanes ${args.join(" ")}: ${r.out}${r.err}`);
    assert.match(r.err, new RegExp(`: --${flag} takes no value, or =true or =false \\(got "${value}"\\)\n`));
  }
});

test("a flag that takes one value, given twice, exits 2 naming it, before anything is served or sent; a repeatable one is kept", async () => {
  // the second value was taken without a word: --port 1 --port 2 served on 2, --to A --to B
  // deployed to B
  const cases: [string[], string][] = [
    [["start", "--port", "0", "--port", "0"], "--port"],
    [["deploy", "--to", "http://127.0.0.1:9", "--to=http://127.0.0.1:9"], "--to"],
    [["start", "--strict", "--strict=false", "--port", "0"], "--strict"],
    [["load", "http://127.0.0.1:9/", "--duration", "1", "--duration=2"], "--duration"],
  ];
  for (const [args, flag] of cases) {
    const r = await lanes(args);
    assert.is(r.code, 2, `lanes ${args.join(" ")}: ${r.out}${r.err}`);
    assert.ok(r.err.includes(`: ${flag} was given twice; it takes one value\n`), `lanes ${args.join(" ")}: ${r.err}`);
  }
  // --header may be given many times: a bad second one is the error, not the repeat
  const headers = await lanes(["load", "http://127.0.0.1:9/", "--header", "a: 1", "--header", "b"]);
  assert.is(headers.code, 2);
  assert.match(headers.err, /--header must be "name: value" with a valid header name \(got "b"\)/);
});

test("a whole-number flag takes decimal digits only: empty, hex and exponent values exit 2 naming the flag", async () => {
  for (const port of ["", " ", "0x4c8f", "1e3", "80.5"]) {
    const r = await lanes(["start", "--port", port]);
    assert.is(r.code, 2, `--port ${JSON.stringify(port)}: ${r.out}${r.err}`);
    assert.ok(r.err.includes(`lanes start: --port must be an integer from 0 to 65535 (got ${JSON.stringify(port)})`), r.err);
  }
  const rounds = await lanes(["bench", "--rounds", "0x2"]);
  assert.is(rounds.code, 2);
  assert.match(rounds.err, /--rounds must be an integer from 1 to 20 \(got "0x2"\)/);
});

test("lanes bench with a --function the manifest lacks, or an --out that cannot be a folder, exits 2 naming the flag before any host starts", async () => {
  const missing = await lanes(["bench", join(root, "functions"), "--function", "nope", "--runtimes", adapter.name]);
  assert.is(missing.code, 2, missing.err);
  assert.match(missing.err, /lanes bench: --function: no function "nope" in .*lanes\.json \(has: hello, /);
  assert.not.match(missing.err, /\n\s+at /);
  // a file where the results folder should be: the run used to go through every cell, then throw
  const file = join(mkdtempSync(join(tmpdir(), "lanes-bench-out-")), "file");
  writeFileSync(file, "x");
  const out = await lanes(["bench", join(root, "functions"), "--function", "hello", "--runtimes", adapter.name, "--out", file]);
  assert.is(out.code, 2, out.err);
  assert.match(out.err, /lanes bench: --out ".*file" cannot be the results folder/);
});

test("lanes bench refuses a --density flag without --density, and a lane-bench flag with it, rather than ignoring it", async () => {
  // `lanes bench --mixed` ran the whole lane bench, every function in every lane on every runtime
  for (const [args, rule] of [
    [["--mixed"], "--mixed goes with --density N"],
    [["--process", "5"], "--process goes with --density N"],
    [["--pack=false"], "--pack goes with --density N"],
    [["--idle-ms", "5000"], "--idle-ms goes with --density N"],
    [["--density", "10", "--function", "hello"], "--function is for the lane bench, not --density N"],
    [["--density", "10", "--duration", "1"], "--duration is for the lane bench, not --density N"],
    [["--density", "10", "--cli", "x.ts"], "--cli goes with --density N --mixed"],
  ] as const) {
    const r = await lanes(["bench", "/no/such/folder", ...args]);
    assert.is(r.code, 2, `lanes bench ${args.join(" ")}: ${r.err}`);
    assert.ok(r.err.startsWith(`lanes bench: ${rule}\n`), r.err);
  }
});

test("an admin command's --to with a query or fragment exits 2 naming the rule, not 'has no admin API'", async () => {
  for (const to of ["http://127.0.0.1:9/?x=1", "http://127.0.0.1:9/#top", "http://127.0.0.1:9/?"]) {
    const r = await lanes(["versions", "--to", to]);
    assert.is(r.code, 2, `--to ${to}: ${r.out}${r.err}`);
    assert.ok(r.err.includes(`lanes versions: --to must be the host's URL without a query or fragment, e.g. http://127.0.0.1:8787 (got ${JSON.stringify(to)})`), r.err);
  }
});

test("an admin token that cannot travel in an HTTP header exits 2 naming --token-file or LANES_TOKEN and the rule, not 'cannot reach' the host", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lanes-token-"));
  try {
    const rule = "a token may hold only printable ASCII characters, no spaces (it travels in an HTTP header; try: openssl rand -hex 32)";
    // a token pasted with a non-ASCII character, and a binary file given by mistake
    for (const [name, bytes] of [
      ["utf8", Buffer.from("ops ключ-ключ-ключ-ключ-1234\n")],
      ["binary", Buffer.from([0x00, 0x01, 0xff, 0xfe, 0x80, 0x41, 0x42])],
    ] as const) {
      const file = join(dir, name);
      writeFileSync(file, bytes);
      const r = await lanes(["versions", "--to", "http://127.0.0.1:9", "--token-file", file]);
      assert.is(r.code, 2, `${name}: ${r.out}${r.err}`);
      assert.ok(r.err.startsWith(`lanes versions: --token-file ${file}: ${rule}\n`), r.err);
      assert.not.match(r.err, /ключ/);
    }
    const before = process.env.LANES_TOKEN;
    process.env.LANES_TOKEN = "ключ-ключ-ключ-ключ-1234";
    try {
      const r = await lanes(["secret", "list", "--to", "http://127.0.0.1:9"]);
      assert.is(r.code, 2, r.out + r.err);
      assert.ok(r.err.startsWith(`lanes secret list: LANES_TOKEN: ${rule}\n`), r.err);
    } finally {
      if (before === undefined) delete process.env.LANES_TOKEN;
      else process.env.LANES_TOKEN = before;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an admin command's bad --wait-timeout, --tag, --message or VERSION exits 2 naming it before anything is sent to the host", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lanes-deploy-flags-"));
  try {
    writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions: { a: { entry: "a.ts" } } }));
    writeFileSync(join(dir, "a.ts"), "export default { fetch: () => new Response('a') }");
    // nothing listens on port 9: a command that sent anything would say it cannot reach the host
    const to = ["--to", "http://127.0.0.1:9", "--token-file", join(dir, "lanes.json")];
    for (const [args, says] of [
      // the deploy was done, then this was reported as a usage error
      [["deploy", dir, "--wait", "--wait-timeout", "abc"], 'lanes deploy: --wait-timeout must be a number of seconds from 0.1 to 3600 (got "abc")'],
      [["deploy", dir, "--wait-timeout", "5"], "lanes deploy: --wait-timeout is how long --wait waits: give --wait too"],
      // the host refused these once the whole folder was uploaded, as "tag: ..." with exit 1
      [["deploy", dir, "--tag", "t".repeat(65)], "lanes deploy: --tag: must be text of at most 64 characters on one line, without control characters"],
      [["deploy", dir, "--message", "a\u0001b"], "lanes deploy: --message: must be text of at most 1000 characters, without control characters"],
      [["rollback", "../x"], 'lanes rollback: VERSION: must be a version id such as "v3" (got "../x")'],
    ] as const) {
      const r = await lanes([...args, ...to]);
      assert.is(r.code, 2, `lanes ${args.join(" ")}: ${r.out}${r.err}`);
      assert.ok(r.err.startsWith(`${says}\n`), r.err);
      const json = await lanes([...args, ...to, "--json"]);
      assert.is(json.code, 2, `lanes ${args.join(" ")} --json: ${json.out}`);
      assert.is(JSON.parse(json.out).error.code, "invalid_flag", json.out);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("with --json, an admin command's usage error is a JSON error and still exits 2, as without it", async () => {
  for (const args of [
    ["versions", "--to", "http://127.0.0.1:9", "--json", "--bogus"],
    ["deploy", "--json", "--to"],
    ["secret", "list", "--json", "--to", "http://127.0.0.1:9", "--function", "f"],
    ["rollback", "v1", "v2", "--to", "http://127.0.0.1:9", "--json"],
  ]) {
    const r = await lanes(args);
    // it exited 1, the code of a failure on the host: a script could not tell a typo from a refusal
    assert.is(r.code, 2, `lanes ${args.join(" ")}: ${r.out}${r.err}`);
    assert.is(JSON.parse(r.out).error.code, "invalid_flag", r.out);
  }
});

test("an unknown command, and no command at all, exit 2 with the usage", async () => {
  const r = spawned(["frobnicate"]);
  assert.is(r.code, 2);
  assert.match(r.err, /unknown command "frobnicate"/);
  assert.match(r.err, /usage: lanes COMMAND/);
  const none = await lanes([]);
  assert.is(none.code, 2);
  assert.match(none.err, /usage: lanes COMMAND/);
});

test("[dir] defaults to the current folder when it holds a lanes.json, else the package's functions/", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lanes-cwd-"));
  try {
    writeFileSync(join(dir, "only.ts"), 'export default { fetch: () => new Response("only") };\n');
    writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions: { only: { entry: "only.ts" } } }));
    const here = await lanes(["validate"], dir);
    assert.is(here.code, 0, here.err);
    assert.ok(here.err.includes(`${join(dir, "lanes.json")}: 1 function(s) ok`), here.err);
    const empty = mkdtempSync(join(tmpdir(), "lanes-empty-"));
    const fallback = await lanes(["validate"], empty);
    rmSync(empty, { recursive: true, force: true });
    assert.is(fallback.code, 0, fallback.err);
    assert.ok(fallback.err.includes(join(root, "functions", "lanes.json")), fallback.err);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("lanes new outside the repo writes into the current folder and tells a command that works", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lanes-new-cwd-"));
  try {
    const r = await lanes(["new", "greet"], dir);
    assert.is(r.code, 0, r.err);
    assert.ok(existsSync(join(dir, "greet.ts")) && existsSync(join(dir, "lanes.json")));
    assert.match(r.out, /try it: npx lanes dev {3}then: curl http:\/\/127\.0\.0\.1:8787\/greet/);
    assert.match(readFileSync(join(dir, "greet.ts"), "utf8"), /import type \{ Context, ExportedHandler \} from "lanes";/);
    const check = await lanes(["validate"], dir);
    assert.is(check.code, 0, check.err);
    assert.match(check.err, /ok\s+greet \(isolate\) \/greet/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("lanes new refuses a name whose route would be reserved, exits 2 naming NAME and the rule, and writes nothing", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lanes-new-reserved-"));
  try {
    const r = await lanes(["new", "_lanes", dir]);
    assert.is(r.code, 2, r.err);
    assert.match(r.err, /lanes new: NAME "_lanes" would give the function the route \/_lanes, and paths under \/_lanes\/ are reserved for lanes itself/);
    assert.equal(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
