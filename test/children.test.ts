/**
 * The process lane runs children of any runtime, whatever the host runs on: with this file run
 * on node, bun and deno, all nine host/child pairs are covered.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defaultCacheDir } from "../adapters/private-dir.ts";
import { descendants, waitFor } from "./helpers/chaos.ts";
import { startCli } from "./helpers/cli.ts";
import { adapter, makeFunctionsDir, startTestHost, type TestHost } from "./helpers/host.ts";

const CHILDREN = ["node", "bun", "deno"] as const;
let h: TestHost;

test.before(async () => {
  const functions: Record<string, Record<string, unknown>> = {};
  for (const rt of CHILDREN) {
    functions[`who-${rt}`] = { entry: "whoami.ts", lane: "process", runtime: rt };
    functions[`echo-${rt}`] = { entry: "echo.ts", lane: "process", runtime: rt };
  }
  functions.broken = { entry: "broken-import.ts", lane: "process" };
  functions["broken-isolate"] = { entry: "broken-import.ts", lane: "isolate" };
  functions.nodefault = { entry: "no-default.ts", lane: "isolate" };
  // a heap size of its own (a snapshot blob of its own, built while this file runs), net so no warm spare takes it
  functions.snap = {
    entry: "snapshot-probe.ts",
    lane: "process",
    runtime: "node",
    memoryMb: 97,
    permissions: { net: true },
    env: { GREETING: "hi" },
    instances: { min: 0, max: 1, idleMs: 100 },
  };
  h = await startTestHost(functions);
});
test.after(async () => h.stop());

for (const rt of CHILDREN) {
  test(`a ${adapter.name} host runs a ${rt} child and it answers`, async () => {
    const res = await h.fetch(`/who-${rt}`);
    assert.is(res.status, 200);
    assert.equal(await res.json(), { runtime: rt });
  });

  test(`binary bodies cross the JSON IPC of a ${rt} child intact (${adapter.name} host)`, async () => {
    const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) % 256);
    const res = await h.fetch(`/echo-${rt}`, { method: "POST", body: bytes });
    assert.equal(new Uint8Array(await res.arrayBuffer()), bytes);
  });
}

test(`a node child restored from the guest's startup snapshot loads the function's ES module as a plain child does (${adapter.name} host)`, async () => {
  type Probe = { restored: boolean; atLoad: string; metaUrl: boolean; greeting: string; dynamicImport: string };
  const answers: { probe: Probe; requestId: string }[] = [];
  // the first children start from the bundle while the blob is built and tried; once the idle
  // instance is reaped, the next request starts a new child
  await waitFor(
    async () => {
      const res = await h.fetch("/snap");
      assert.is(res.status, 200);
      answers.push({ probe: (await res.json()) as Probe, requestId: res.headers.get("x-request-id")! });
      if (answers.at(-1)!.probe.restored) return true;
      await new Promise((r) => setTimeout(r, 1500));
      return false;
    },
    "a child restored from the snapshot",
    30_000,
  );
  for (const { probe } of answers) {
    assert.equal({ ...probe, restored: true }, { restored: true, atLoad: "top-level await ran", metaUrl: true, greeting: "hi", dynamicImport: "a/b" });
  }
  // a second request to the same child (well within idleMs): after its first log line a child
  // runs each request in an AsyncLocalStorage scope, which names the request its lines belong to
  const again = await h.fetch("/snap");
  const requestId = again.headers.get("x-request-id")!;
  assert.is(((await again.json()) as Probe).restored, true);
  await waitFor(
    () => h.logs.some((l) => l.includes(`[snap ${requestId.slice(0, 8)}] snapshot probe logs`)),
    `its log line carries its request id ${requestId}: ${h.logs.filter((l) => l.includes("snapshot probe")).join("")}`,
  );
});

test(`a host that starts after another made the snapshot restores its first node child from it (${adapter.name} host)`, async () => {
  // the blob for this heap size is made and tried (the test above had a child restored from it);
  // a host of its own, in a process of its own, with one warm instance: the child its start-up
  // starts is the one that answers
  const dir = makeFunctionsDir({
    snap: { entry: "snapshot-probe.ts", lane: "process", runtime: "node", memoryMb: 97, permissions: { net: true }, env: { GREETING: "hi" }, instances: { min: 1, max: 1 } },
  });
  const cli = await startCli(["start", dir, "--port", "0", "--no-access-log"]);
  try {
    const res = await fetch(`${cli.url}/snap`);
    assert.is(res.status, 200);
    assert.is(((await res.json()) as { restored: boolean }).restored, true, "its first child is restored from the snapshot");
  } finally {
    cli.kill();
    await cli.exited;
  }
});

test(`a host that starts after another warmed the Deno children's home mounts it in its first deno child (${adapter.name} host)`, async () => {
  // the first host warms the home (Deno's code cache) in the background when its first deno child starts
  const homes = join(defaultCacheDir(), "homes");
  await waitFor(() => readdirSync(homes).some((n) => /^deno-[0-9a-f]{16}$/.test(n)), "a warmed home in the cache", 30_000, 200);
  const dir = makeFunctionsDir({ who: { entry: "whoami.ts", lane: "process", runtime: "deno", instances: { min: 1, max: 1 } } });
  const cli = await startCli(["start", dir, "--port", "0", "--no-access-log"]);
  try {
    assert.is((await fetch(`${cli.url}/who`)).status, 200);
    // what the sandbox binds at the home its passwd names (/proc/PID/mountinfo: the 4th field is
    // the folder bound, the 5th where)
    const mounts = descendants(cli.hostPid)
      .filter((pid) => cmdline(pid).startsWith("/lanes/bin/deno"))
      .flatMap((pid) => readFileSync(`/proc/${pid}/mountinfo`, "utf8").split("\n"))
      .map((line) => line.split(" "))
      .filter((f) => f[4] === "/lanes/home")
      .map((f) => f[3]!);
    assert.ok(mounts.length > 0, "a sandboxed deno child");
    for (const bound of mounts) assert.match(bound, /\/homes\/deno-[0-9a-f]{16}$/, "the warmed home, not the empty one");
  } finally {
    cli.kill();
    await cli.exited;
  }
});

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return ""; // gone
  }
}

test("a function whose module throws at import answers 503 unavailable, and the host logs why", async () => {
  for (const name of ["broken", "broken-isolate"]) {
    const res = await h.fetch(`/${name}`);
    assert.is(res.status, 503);
    const body = await res.json();
    assert.is(body.error.code, "unavailable");
    assert.not.match(JSON.stringify(body), /\n\s+at /, "no stack trace to the client");
  }
  assert.ok(
    h.logs.some((l) => /broken at import time/.test(l)),
    "the error is in the host log",
  );
});

test("a module without a fetch handler answers 503 and the log says what to export", async () => {
  const res = await h.fetch("/nodefault");
  assert.is(res.status, 503);
  assert.ok(
    h.logs.some((l) => /no default export.*export default \{ fetch/.test(l)),
    h.logs.join(""),
  );
});

test("other functions keep serving while one cannot start", async () => {
  const res = await h.fetch("/who-node");
  assert.is(res.status, 200);
});

test.run();
