/**
 * The process lane runs children of any runtime, whatever the host runs on: with this file run
 * on node, bun and deno, all nine host/child pairs are covered.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
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
