/**
 * On a machine without bubblewrap (here: a PATH without bwrap), "sandbox": "required" refuses to
 * start and says what is missing, and "auto" starts, warns naming the functions that run
 * unsandboxed, and shows it in the capability table.
 */
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { hostEnvironment } from "../adapters/env.ts";
import { cliCommand, startCli } from "./helpers/cli.ts";
import { expectJson } from "./helpers/chaos.ts";
import { adapter, makeFunctionsDir } from "./helpers/host.ts";
import { spawnProcess } from "./helpers/spawn.ts";

// what lanes needs from PATH, but bwrap
const bin = mkdtempSync(join(tmpdir(), "lanes-no-bwrap-"));
for (const tool of ["node", "prlimit", "env"]) symlinkSync(`/usr/bin/${tool}`, join(bin, tool));
const env = { ...hostEnvironment(adapter.name), PATH: bin };
const fn = (sandbox: string) => ({ entry: "whoami.ts", lane: "process", runtime: "node", sandbox });
const dirs: string[] = [];

test.after(() => {
  for (const d of [bin, ...dirs]) rmSync(d, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ code: number | null; out: string }> {
  const [cmd, argv] = cliCommand(args);
  const child = spawnProcess(cmd, argv, env);
  let out = "";
  child.onOutput((t) => (out += t));
  return { code: (await child.exited).code, out };
}

test('"required" without bubblewrap: lanes start and lanes validate refuse, naming the function and what to install', async () => {
  const dir = makeFunctionsDir({ locked: fn("required"), loose: fn("off") });
  dirs.push(dir);
  for (const command of ["start", "validate"]) {
    const { code, out } = await run([command, dir, ...(command === "start" ? ["--port", "0"] : [])]);
    assert.is(code, 1, out);
    assert.match(
      out,
      /sandbox "required" for locked, but there is no OS sandbox on this machine: bwrap was not found on PATH: install it \(Debian\/Ubuntu: apt-get install bubblewrap\)/,
    );
    assert.not.match(out, /listening on/);
  }
});

test('"auto" without bubblewrap: the host starts, warns naming the unsandboxed functions, and the table says so', async () => {
  const dir = makeFunctionsDir({ open: fn("auto"), off: fn("off") });
  dirs.push(dir);
  const cli = await startCli(["start", dir, "--port", "0", "--log", "pretty"], { env });
  try {
    assert.equal(await expectJson(fetch(`${cli.url}/open`)), { runtime: "node" });
    // pretty lines start with the time of day
    const warnings = cli
      .output()
      .split("\n")
      .map((l) => l.replace(/^\d\d:\d\d:\d\d\.\d{3} /, ""))
      .filter((l) => l.startsWith("warn: "));
    assert.is(warnings.length, 1, cli.output());
    assert.match(warnings[0]!, /^warn: no OS sandbox for the process-lane function\(s\) open: bwrap was not found on PATH.*install bubblewrap, or set "sandbox": "off"/);
    assert.match(cli.output(), /open +process\/node .* none \(no bubblewrap\) +all the host's user can +all +the host and its user's processes/);
    assert.match(cli.output(), /off +process\/node .* none \(sandbox off\)/);
  } finally {
    cli.kill("SIGTERM");
    await cli.exited;
  }
});

test.run();
