/**
 * `lanes start` and `lanes dev` given a --host or --data they cannot use, as a user meets them:
 * the real CLI in its own process, exiting with a line that names the flag and the rule, never a
 * stack trace, and never serving as if the flag were not given.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { hostEnvironment } from "../adapters/env.ts";
import { cliCommand } from "./helpers/cli.ts";
import { startHostOn } from "./helpers/console.ts";
import { adapter } from "./helpers/host.ts";

const dir = mkdtempSync(join(tmpdir(), "lanes-start-flags-"));
writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions: { a: { entry: "a.ts" } } }));
writeFileSync(join(dir, "a.ts"), "export default { fetch: () => new Response('a') }");
const aFile = join(dir, "a.ts");

/** The CLI with the host's own environment (so it serves in this process, never re-executed), stopped after 30 s if it serves. */
function run(args: string[]): { code: number | null; out: string; err: string } {
  const [cmd, argv] = cliCommand(args);
  const r = spawnSync(cmd, argv, { cwd: dir, encoding: "utf8", timeout: 30_000, env: { ...hostEnvironment(adapter.name), NO_COLOR: "1" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const STACK = /\n\s+at /;

test("a --host that is no address of this machine exits 1 naming --host and the rule, with no stack trace", () => {
  // TEST-NET-1: never an address of this machine, and no name to look up
  const r = run(["start", dir, "--port", "0", "--host", "192.0.2.1", "--log", "json"]);
  assert.is(r.code, 1, r.out + r.err);
  assert.ok(r.err.startsWith("cannot listen on 192.0.2.1 port 0 ("), r.err);
  assert.ok(r.err.includes("): --host must be an address of this machine or a name that resolves to one"), r.err);
  assert.not.match(r.err, STACK);
  assert.not.match(r.out, /listening on/);
});

test("an empty --host, --data, --admin-token-file or --secrets-key-file (an unset shell variable) exits 2 naming the flag, rather than serving without it", () => {
  for (const [command, flag] of [
    ["start", "host"],
    ["dev", "host"],
    ["start", "data"],
    ["start", "admin-token-file"],
    ["start", "secrets-key-file"],
  ] as const) {
    const r = run([command, dir, "--port", "0", `--${flag}=`]);
    assert.is(r.code, 2, `lanes ${command} --${flag}=: ${r.out}${r.err}`);
    assert.ok(r.err.startsWith(`lanes ${command}: --${flag} needs a value`), r.err);
    assert.not.match(r.out, /listening on/);
  }
});

test("a --data that is a file, or inside one, exits 2 naming --data and the file, with no stack trace", () => {
  for (const data of [aFile, join(aFile, "store")]) {
    const r = run(["start", dir, "--port", "0", "--data", data]);
    assert.is(r.code, 2, `--data ${data}: ${r.out}${r.err}`);
    assert.ok(r.err.startsWith(`lanes start: --data ${data}: ${aFile} is not a folder (give a new or empty folder, or the store of a lanes host)\n`), r.err);
    assert.not.match(r.err, STACK);
  }
});

test("a start on a store that holds deployments names the folder it was given as not served, and how to serve it; the start that fills the store does not", async () => {
  // `lanes start next --data S` served S's deployment and said nothing of next/
  const store = join(dir, "store");
  const other = mkdtempSync(join(tmpdir(), "lanes-start-other-"));
  writeFileSync(join(other, "lanes.json"), JSON.stringify({ functions: { b: { entry: "b.ts" } } }));
  writeFileSync(join(other, "b.ts"), "export default { fetch: () => new Response('b') }");
  try {
    const first = await startHostOn(adapter.name, [dir, "--data", store]);
    await first.stop();
    assert.not.match(first.output(), /is not what this host serves/);
    const second = await startHostOn(adapter.name, [other, "--data", store]);
    try {
      assert.is(await (await fetch(`${second.url}/a`)).text(), "a", "the store's deployment is served");
      const line = `${other} is not what this host serves: only an empty store takes the folder it starts on; to serve it, lanes deploy ${other} --to ${second.url}`;
      assert.ok(second.output().includes(line), second.output());
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
