/**
 * The three documented ways to run the CLI work: `npm run lanes --`, `npm run lanes:bun --`
 * and `deno task lanes` (README, "Running on each runtime").
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const env = { ...process.env, PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}` };
const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { cwd: root, env, encoding: "utf8", timeout: 90_000 });

const COMMANDS: [string, string, string[], string][] = [
  ["npm run lanes -- validate functions", "npm", ["run", "lanes", "--", "validate", "functions"], "node"],
  ["npm run lanes:bun -- validate functions", "npm", ["run", "lanes:bun", "--", "validate", "functions"], "bun"],
  ["deno task lanes validate functions", "deno", ["task", "lanes", "validate", "functions"], "deno"],
];

for (const [label, cmd, args] of COMMANDS) {
  test(`\`${label}\` loads every example function and exits 0`, () => {
    const r = run(cmd, args);
    assert.is(r.status, 0, `${label}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /ok\s+hello \(isolate\)/);
    assert.match(r.stderr, /ok\s+hello-process \(process\//);
    assert.match(r.stderr, /function\(s\) ok/);
  });
}

test("`npm run lanes` with no command prints the usage and exits non-zero", () => {
  const r = run("npm", ["run", "--silent", "lanes"]);
  assert.is.not(r.status, 0);
  assert.match(r.stdout, /usage:/);
});

test.run();
