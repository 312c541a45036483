/**
 * The host keeps its secrets: `lanes start` from a shell whose environment holds more than the
 * allow-list re-executes itself with the allow-listed variables only, stays in front of the
 * host (signals forwarded, exit code passed through, the host dies with it), and hands lanes'
 * own secrets (LANES_ADMIN_TOKEN) over stdin, for hostEnv(). An isolate-lane function, which
 * runs in the host's process, then finds none of the shell's variables. A Node host's glibc is
 * told in that environment to keep what it frees (adapters/allocator.ts, hostAllocatorEnv), so
 * a Node host started with a clean one runs again too; an operator's own tuning wins.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { cliCommand, startCli, type RunningCli } from "./helpers/cli.ts";
import { descendants, expectJson, isAlive, sleep, waitFor } from "./helpers/chaos.ts";
import { hostAllocatorEnv, keepingEnv } from "../adapters/allocator.ts";
import { adapter, makeFunctionsDir } from "./helpers/host.ts";
import { scratchDir } from "./helpers/scratch.ts";
import { spawnProcess } from "./helpers/spawn.ts";

const SHELL_SECRET = "LANES_HOST_ENV_TEST_SHELL_SECRET_VALUE";
/** Allocator tunings an operator may give the host (../adapters/README.md, Memory). */
const ALLOCATOR = { MIMALLOC_PURGE_DELAY: "-1", MALLOC_ARENA_MAX: "2" };
const TOKEN = "admin-token-for-the-test";
/** What a user's shell holds: everything this test runs with, a secret, and lanes' admin token. */
const shell = { ...(process.env as Record<string, string>), SHELL_SECRET_OF_THE_USER: SHELL_SECRET, LANES_ADMIN_TOKEN: TOKEN, ...ALLOCATOR };
const ALLOWED = /^(PATH|HOME|TZ|TMPDIR|LANG|LANGUAGE|LC_[A-Z_]+|TERM|COLORTERM|NO_COLOR|FORCE_COLOR|LANES_[A-Za-z0-9_]+|MIMALLOC_[A-Z_]+|MALLOC_[A-Z_]+)$/;

const dir = makeFunctionsDir({
  iso: { entry: "sandbox-escape.ts", lane: "isolate" },
  slow: { entry: "chaos-fault.ts", lane: "process", instances: { min: 1, max: 1 } },
});
/** For the hosts that only stop, or serve /slow: no isolate to start in each (host start CPU). */
const slowDir = makeFunctionsDir({ slow: { entry: "chaos-fault.ts", lane: "process", instances: { min: 1, max: 1 } } });
let cli: RunningCli;

test.before(async () => {
  cli = await startCli(["start", dir, "--port", "0"], { env: shell });
});
test.after(() => {
  if (isAlive(cli.pid)) cli.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
  rmSync(slowDir, { recursive: true, force: true });
});

test(`a ${adapter.name} host started from a shell with other variables runs with the allow-listed ones only`, async () => {
  assert.is.not(cli.hostPid, cli.pid, "the CLI re-executed the host and stays in front of it");
  const names = namesIn(cli.hostPid);
  assert.ok(names.includes("PATH") && names.includes("HOME"), names.join(" "));
  for (const n of names) assert.match(n, ALLOWED, `${n} reached the host's environment`);
  assert.not.ok(names.includes("LANES_ADMIN_TOKEN"), "the token is not in the host's environment");
  for (const [name, value] of Object.entries(ALLOCATOR)) assert.is(valueIn(cli.hostPid, name), value, `${name} reaches the host`);
  // the re-executed host announces itself once (the CLI in front adds nothing)
  assert.is(cli.output().match(/^listening on http:\/\/\S+$/gm)?.length, 1, cli.output());
});

test("an isolate-lane function finds none of the shell's variables, nor lanes' own secrets", async () => {
  const seen = await expectJson<{ environ: { detail: string } }>(fetch(`${cli.url}/iso?moves=environ`));
  const { self, env } = JSON.parse(seen.environ.detail) as { self: string[]; env: string[] };
  assert.ok(self.includes("PATH"), `it read the host's environ: ${self.join(" ")}`);
  for (const name of ["SHELL_SECRET_OF_THE_USER", "LANES_ADMIN_TOKEN", "NODE_EXTRA_CA_CERTS"]) {
    assert.not.ok(self.includes(name), `${name} is in /proc/self/environ`);
  }
  assert.equal(env, [], "process.env holds exactly the manifest's env (none)");
});

test("LANES_ADMIN_TOKEN reaches hostEnv() in the re-executed host, over its stdin, not its environment", async () => {
  const [cmd, args] = await probeCommand();
  const child = spawnProcess(cmd, args, shell);
  let out = "";
  child.onOutput((t) => (out += t));
  assert.equal(await child.exited, { code: 0, signal: null }, out);
  const seen = JSON.parse(out.trim()) as { token: string | null; environ: string[]; pid: number };
  assert.is(seen.token, TOKEN);
  assert.is.not(seen.pid, child.pid, "it ran in a new process");
  for (const n of seen.environ) assert.match(n, ALLOWED);
});

test("SIGTERM to the CLI reaches the host: in-flight requests finish, both exit 0, no child is left", async () => {
  await expectJson(fetch(`${cli.url}/slow`));
  const procs = [cli.hostPid, ...descendants(cli.hostPid)];
  const inflight = fetch(`${cli.url}/slow?do=sleep&ms=700`);
  await sleep(150);
  cli.kill("SIGTERM");
  const res = await inflight;
  assert.is(res.status, 200, await res.clone().text());
  assert.equal(await cli.exited, { code: 0, signal: null }, cli.output());
  assert.is(cli.output().match(/stopping: finishing in-flight requests/g)?.length, 1, "the host got the signal once");
  await waitFor(() => procs.every((p) => !isAlive(p)), `left behind: ${procs.filter(isAlive).join(", ")}`, 5000);
});

test("SIGINT (Ctrl-C) stops it the same way, once; and when the CLI is killed, the host and its children stop too", async () => {
  const second = await startCli(["start", slowDir, "--port", "0"], { env: shell });
  try {
    second.kill("SIGINT");
    assert.equal(await second.exited, { code: 0, signal: null }, second.output());
    assert.is(second.output().match(/stopping: finishing in-flight requests/g)?.length, 1, "the host got the signal once");
    const third = await startCli(["start", slowDir, "--port", "0"], { env: shell });
    await expectJson(fetch(`${third.url}/slow`));
    const procs = [third.hostPid, ...descendants(third.hostPid)];
    assert.ok(procs.length >= 2, "a host and its process-lane child");
    third.kill("SIGKILL");
    await waitFor(() => procs.every((p) => !isAlive(p)), `left behind: ${procs.filter(isAlive).join(", ")}`, 8000);
  } finally {
    if (isAlive(second.pid)) second.kill("SIGKILL");
  }
});

test("SIGTERM sent to the CLI and the host at once (systemd's KillMode=control-group, pkill -f) still stops gracefully: in-flight requests finish, exit 0", async () => {
  const both = await startCli(["start", slowDir, "--port", "0"], { env: shell });
  try {
    await expectJson(fetch(`${both.url}/slow`));
    const inflight = fetch(`${both.url}/slow?do=sleep&ms=700`).then(
      async (r) => `${r.status} ${await r.text()}`,
      (e: unknown) => `failed: ${String(e)}`,
    );
    await sleep(150);
    process.kill(both.hostPid, "SIGTERM");
    await sleep(50); // apart, so the host cannot take the two as one pending signal
    both.kill("SIGTERM");
    assert.match(await inflight, /^200 /, both.output());
    assert.equal(await both.exited, { code: 0, signal: null }, both.output());
  } finally {
    if (isAlive(both.pid)) both.kill("SIGKILL");
  }
});

test("one Ctrl-C delivered twice at once (a terminal signals npm and the CLI, and npm passes it on) still stops gracefully", async () => {
  const dup = await startCli(["start", slowDir, "--port", "0"], { env: shell });
  try {
    await expectJson(fetch(`${dup.url}/slow`));
    const inflight = fetch(`${dup.url}/slow?do=sleep&ms=700`).then(
      async (r) => `${r.status} ${await r.text()}`,
      (e: unknown) => `failed: ${String(e)}`,
    );
    await sleep(150);
    dup.kill("SIGINT");
    await sleep(30);
    dup.kill("SIGINT");
    assert.match(await inflight, /^200 /, dup.output());
    assert.equal(await dup.exited, { code: 0, signal: null }, dup.output());
  } finally {
    if (isAlive(dup.pid)) dup.kill("SIGKILL");
  }
});

test("a second SIGINT to the CLI stops the host at once, without waiting for requests in flight", async () => {
  const twice = await startCli(["start", slowDir, "--port", "0"], { env: shell });
  try {
    await expectJson(fetch(`${twice.url}/slow`));
    const inflight = fetch(`${twice.url}/slow?do=sleep&ms=3000`).catch(() => undefined);
    await sleep(150);
    const t0 = Date.now();
    twice.kill("SIGINT");
    await sleep(600);
    twice.kill("SIGINT");
    const exit = await twice.exited;
    assert.ok(Date.now() - t0 < 2500, `stopped after ${Date.now() - t0} ms`);
    assert.is.not(exit.code, 0, twice.output());
    await inflight;
  } finally {
    if (isAlive(twice.pid)) twice.kill("SIGKILL");
  }
});

test("the host's exit code comes through the CLI (a manifest error: 1, with its message)", async () => {
  const [cmd, args] = cliCommand(["start", `${slowDir}/no-such-folder`, "--port", "0"]);
  const child = spawnProcess(cmd, args, shell);
  let out = "";
  child.onOutput((t) => (out += t));
  assert.equal(await child.exited, { code: 1, signal: null });
  assert.match(out, /no-such-folder: no such folder/);
});

test(`a ${adapter.name} host started with only PATH and HOME: ${adapter.name === "node" ? "runs again, its glibc told to keep what it frees" : "runs as it was started"}`, async () => {
  const clean = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" };
  const host = await startCli(["start", slowDir, "--port", "0"], { env: clean });
  try {
    const want = hostAllocatorEnv(adapter.name, clean);
    if (adapter.name === "node") {
      assert.is.not(host.hostPid, host.pid, "the CLI re-executed the host and stays in front of it");
      assert.equal(want, keepingEnv("node", 32));
    } else {
      assert.is(host.hostPid, host.pid, "nothing to add: the CLI is the host");
      assert.equal(want, {});
    }
    for (const [name, value] of Object.entries(want)) assert.is(valueIn(host.hostPid, name), value, `${name} in the host's environment`);
    // (a re-executed host is told to read its secrets from stdin)
    const marker = adapter.name === "node" ? ["LANES_SECRETS_ON_STDIN"] : [];
    assert.equal(namesIn(host.hostPid).sort(), ["HOME", "PATH", ...marker, ...Object.keys(want)].sort(), "and nothing else");
    await expectJson(fetch(`${host.url}/slow`));
  } finally {
    host.kill("SIGTERM");
    await host.exited;
  }
});

test(`a ${adapter.name} host started with only PATH, HOME and the operator's MALLOC_ARENA_MAX runs as it was started, glibc as the operator set it`, async () => {
  const tuned = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", MALLOC_ARENA_MAX: "2" };
  const host = await startCli(["start", slowDir, "--port", "0"], { env: tuned });
  try {
    assert.equal(
      descendants(host.pid).filter((pid) => isAlive(pid) && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(" start ".replaceAll(" ", "\0"))),
      [],
      "no host started again",
    );
    assert.equal(namesIn(host.pid).sort(), ["HOME", "MALLOC_ARENA_MAX", "PATH"], "its environment is the one it was given");
    await expectJson(fetch(`${host.url}/slow`));
  } finally {
    host.kill("SIGTERM");
    await host.exited;
  }
});

/**
 * The probe run on this file's runtime. Node runs a bundle of it, as `lanes` runs on Node
 * (../bin/node-cli.mjs): through tsx, the probe and its run again cost a second more of CPU.
 */
async function probeCommand(): Promise<[string, string[]]> {
  const probe = fileURLToPath(new URL("./fixtures/host-env-probe.ts", import.meta.url));
  if (adapter.name === "bun") return [process.execPath, [probe]];
  if (adapter.name === "deno") return [process.execPath, ["run", "-A", probe]];
  const { build } = await import("esbuild");
  const outfile = join(scratchDir("probe-"), "probe.mjs");
  await build({ entryPoints: [probe], bundle: true, platform: "node", format: "esm", outfile, logLevel: "silent" });
  return [process.execPath, [outfile]];
}

function namesIn(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, "utf8")
    .split("\0")
    .filter(Boolean)
    .map((l) => l.split("=")[0]!);
}

function valueIn(pid: number, name: string): string | undefined {
  const line = readFileSync(`/proc/${pid}/environ`, "utf8")
    .split("\0")
    .find((l) => l.startsWith(`${name}=`));
  return line?.slice(name.length + 1);
}

test.run();
