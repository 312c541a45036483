/**
 * The three documented ways to run the CLI work: `npm run lanes --`, `npm run lanes:bun --`
 * and `deno task lanes` (README, "Running on each runtime"), and `npm start` stops when npm is
 * told to.
 */
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { within } from "../runtime/within.ts";
import { scratchDir } from "./helpers/scratch.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const env = { ...process.env, PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}` };
const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { cwd: root, env, encoding: "utf8", timeout: 90_000 });

// The example folder's hello in both lanes: what each command runs is the point here; every
// example function loading on each host is test/cli.test.ts's ("[dir] defaults ..."), in process
// (the seven, three of them sandboxed children, were most of this suite's CPU, three times over)
const examples = scratchDir("commands-");
copyFileSync(join(root, "functions", "hello.ts"), join(examples, "hello.ts"));
writeFileSync(
  join(examples, "lanes.json"),
  JSON.stringify({ functions: { hello: { entry: "hello.ts", lane: "isolate" }, "hello-process": { entry: "hello.ts", lane: "process", env: { GREETING: "hi" } } } }),
);
test.after(() => rmSync(examples, { recursive: true, force: true }));

const COMMANDS: [string, string, string[], string][] = [
  ["npm run lanes -- validate DIR", "npm", ["run", "lanes", "--", "validate", examples], "node"],
  ["npm run lanes:bun -- validate DIR", "npm", ["run", "lanes:bun", "--", "validate", examples], "bun"],
  ["deno task lanes validate DIR", "deno", ["task", "lanes", "validate", examples], "deno"],
];

for (const [label, cmd, args] of COMMANDS) {
  test(`\`${label}\` loads a function in each lane and exits 0`, () => {
    const r = run(cmd, args);
    assert.is(r.status, 0, `${label}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /ok\s+hello \(isolate\)/);
    assert.match(r.stderr, /ok\s+hello-process \(process\//);
    assert.match(r.stderr, /function\(s\) ok/);
  });
}

test("`npx lanes --version` works in the repo after npm ci", () => {
  const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
  const r = run("npx", ["--no-install", "lanes", "--version"]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^lanes ${version.replace(/\./g, "\\.")} \\(node `));
});

test("in a user's folder with lanes installed: npx lanes new, npx lanes validate, and the function type-checks against the package's types", () => {
  const dir = mkdtempSync(join(tmpdir(), "lanes-installed-"));
  const here = (cmd: string, args: string[]) => spawnSync(cmd, args, { cwd: dir, env, encoding: "utf8", timeout: 90_000 });
  try {
    // what `npm install /path/to/lanes` lays out: the package linked in, its bin on node_modules/.bin
    mkdirSync(join(dir, "node_modules", ".bin"), { recursive: true });
    symlinkSync(root, join(dir, "node_modules", "lanes"));
    symlinkSync("../lanes/bin/lanes.mjs", join(dir, "node_modules", ".bin", "lanes"));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "my-functions", private: true, type: "module", dependencies: { lanes: `file:${root}` } }));
    const made = here("npx", ["--no-install", "lanes", "new", "greet"]);
    assert.is(made.status, 0, made.stderr);
    assert.match(made.stdout, /try it: npx lanes dev {3}then: curl http:\/\/127\.0\.0\.1:8787\/greet/);
    const checked = here("npx", ["--no-install", "lanes", "validate"]);
    assert.is(checked.status, 0, checked.stderr);
    assert.match(checked.stderr, /ok\s+greet \(isolate\)/);
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", lib: ["ES2022", "DOM"], types: [] },
        include: ["*.ts"],
      }),
    );
    // the types bite: a number where ctx.shared.set wants a string. One tsc run for both files:
    // its only error is that one, so the function `lanes new` made type-checks
    writeFileSync(
      join(dir, "wrong.ts"),
      'import type { Context } from "lanes";\nexport default { fetch: async (_r: Request, _e: Record<string, string>, ctx: Context) => { await ctx.shared.set("k", 1); return new Response(ctx.traceparent); } };\n',
    );
    const tsc = here(join(root, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"]);
    assert.is(tsc.status, 2, `${tsc.stdout}${tsc.stderr}`);
    const errors = tsc.stdout.split("\n").filter((l) => /error TS\d+/.test(l));
    assert.is(errors.length, 1, tsc.stdout);
    assert.match(errors[0]!, /^wrong\.ts.*Argument of type 'number' is not assignable to parameter of type 'string'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("`npm run lanes` with no command prints the usage and exits non-zero", () => {
  const r = run("npm", ["run", "--silent", "lanes"]);
  assert.is.not(r.status, 0);
  assert.match(r.stdout + r.stderr, /usage:/);
});

test("`npm start` stops its host when npm gets SIGTERM, as a process manager stops it: no host left serving", async () => {
  // npm passes the signal to the script's shell, which does not pass it on: the scripts `exec`.
  // npm gets a process group of its own, so that whatever it leaves behind is killed at the end.
  const npm = spawn("npm", ["start", "--", "--port", "0"], { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => npm.on("exit", () => resolve()));
  let out = "";
  npm.stdout.on("data", (d) => (out += d));
  npm.stderr.on("data", (d) => (out += d));
  try {
    const deadline = Date.now() + 60_000;
    let url: string | undefined;
    while (!(url = /listening on (http:\/\/\S+)/.exec(out)?.[1])) {
      if (Date.now() > deadline) throw new Error(`npm start did not listen within 60 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.is((await fetch(`${url}/hello`)).status, 200);
    process.kill(npm.pid!, "SIGTERM");
    const gone = await within(exited, 15_000);
    assert.is.not(gone, "late", `npm exits within 15 s of SIGTERM:\n${out.slice(-2000)}`);
    const after = await fetch(`${url}/hello`).then(
      (r) => `answered ${r.status}`,
      () => "refused",
    );
    assert.is(after, "refused", `once npm has exited, nothing serves ${url}:\n${out.slice(-2000)}`);
  } finally {
    try {
      process.kill(-npm.pid!, "SIGKILL");
    } catch {
      // the group is gone: nothing was left behind
    }
  }
});

test.run();
