/**
 * The process lane runs children of any runtime, whatever the host runs on: with this file run
 * on node, bun and deno, all nine host/child pairs are covered.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitFor } from "./helpers/chaos.ts";
import { adapter, startTestHost, type TestHost } from "./helpers/host.ts";

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
