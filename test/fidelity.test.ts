/**
 * Functions written for other platforms run unchanged: one test per fidelity fix of issue 12
 * that the differential suite does not show on its own, each in the isolate lane and with a
 * node, a bun and a deno child, with the host on Node, Bun and Deno (test/run.mjs). The
 * shutdown and log fixes need a real process: test/fidelity-cli.test.ts.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { RuntimeName } from "../adapters/types.ts";
import type { RequestLog } from "../runtime/host/served.ts";
import { expectError, waitFor } from "./helpers/chaos.ts";
import { parseExposition, value } from "./helpers/exposition.ts";
import { adapter, startTestHost, type TestHost } from "./helpers/host.ts";
import { send } from "./helpers/differential/raw-client.ts";
import { openRequest, within } from "./helpers/raw-stream.ts";

const COMBOS: { label: string; lane: "isolate" | "process"; runtime: RuntimeName }[] = [
  { label: "isolate", lane: "isolate", runtime: adapter.name },
  ...(["node", "bun", "deno"] as const).map((rt) => ({ label: `process-${rt}`, lane: "process" as const, runtime: rt })),
];
const where = (label: string) => `${label} (${adapter.name} host)`;
let h: TestHost;
/** The access log's entries, as the host wrote them. */
const logged: RequestLog[] = [];

test.before(async () => {
  const functions: Record<string, Record<string, unknown>> = {};
  for (const c of COMBOS) {
    const base = { lane: c.lane, ...(c.lane === "process" ? { runtime: c.runtime } : {}), instances: { min: 0, max: 1 } };
    functions[`probe-${c.label}`] = { entry: "fidelity-probe.ts", ...base };
    functions[`fid-${c.label}`] = { entry: "fidelity.ts", route: `/fid-${c.label}/*`, ...base };
    functions[`nodefault-${c.label}`] = { entry: "no-default.ts", ...base };
    functions[`silent-${c.label}`] = { entry: "fidelity-sw-silent.ts", ...base };
  }
  h = await startTestHost(functions, { onRequest: (entry) => logged.push(entry) });
});
test.after(async () => h.stop());

const each = (f: (label: string) => Promise<void>) => Promise.all(COMBOS.map((c) => f(c.label)));

test("a string body without a content-type reaches the client as text/plain;charset=UTF-8 from every lane and child", async () => {
  await each(async (label) => {
    const res = await send(h.url, { method: "GET", target: `/probe-${label}`, headers: [] });
    assert.is(res.status, 200, where(label));
    assert.equal(
      res.headers.filter(([k]) => k === "content-type"),
      [["content-type", "text/plain;charset=UTF-8"]],
      where(label),
    );
  });
});

test("a bad Response init throws inside the function as on the platform: a Hono app's onError answers its 500", async () => {
  await each(async (label) => {
    const res = await h.fetch(`/fid-${label}/hono-on-error`);
    assert.is(res.status, 500, where(label));
    assert.is(await res.text(), "onError caught TypeError", where(label));
    const err = await expectError(await h.fetch(`/fid-${label}/bad-init`), 500, "function_error");
    assert.match(err.message, /^the function threw: /, where(label));
  });
});

test("a streamed response's head reaches the client when the function returns it, before its first chunk", async () => {
  await each(async (label) => {
    const key = `late-${crypto.randomUUID()}`;
    const req = openRequest(h.url, `/probe-${label}?do=late&key=${key}`);
    const head = await within(req.head, 15_000, `${where(label)}: the head while the first chunk is held back`);
    assert.match(head, /^HTTP\/1\.1 201 /, where(label));
    assert.match(head, /\r\nx-late: head/i, where(label));
    assert.not.match(req.received(), /the first chunk/, `${where(label)}: the chunk came before it was written`);
    assert.is(await (await h.fetch(`/probe-${label}?do=open&key=${key}`)).text(), "opened");
    await within(req.closed, 5000, `${where(label)}: the rest of the body`);
    assert.match(req.received(), /the first chunk, late/, where(label));
  });
});

test("a module with neither a default export nor a fetch listener answers 503 with the same message from every lane and child", async () => {
  const messages = await Promise.all(
    COMBOS.map(async ({ label }) => {
      const err = await expectError(await h.fetch(`/nodefault-${label}`), 503, "unavailable");
      return err.message.replaceAll(`nodefault-${label}`, "NAME");
    }),
  );
  for (const m of messages) assert.is(m, messages[0]);
  assert.match(messages[0]!, /the module has no default export and adds no "fetch" listener\. Export a fetch handler: .*addEventListener\("fetch"/);
});

test("a service-worker style listener that does not call event.respondWith gets a clear 500", async () => {
  await each(async (label) => {
    const err = await expectError(await h.fetch(`/silent-${label}`), 500, "function_error");
    assert.is(err.message, 'the function threw: the "fetch" listener did not call event.respondWith() while the event was dispatched', where(label));
  });
});

test("when the client goes away before the answer, the function's request.signal aborts", async () => {
  await each(async (label) => {
    const key = `wait-${crypto.randomUUID()}`;
    const req = openRequest(h.url, `/probe-${label}?do=wait&key=${key}`);
    const seen = async () => await (await h.fetch(`/probe-${label}?do=check&key=${key}`)).text();
    // the function runs (a cold instance may take a while to start on a loaded machine)
    await waitFor(async () => (await seen()) === "waiting", `${where(label)}: the function started`, 15_000);
    req.drop();
    const check = async () => (await seen()) === "aborted true AbortError";
    await waitFor(check, `${where(label)}: request.signal aborted`, 5000);
  });
});

test("when the client goes away during a streamed answer, the function's request.signal aborts", async () => {
  await each(async (label) => {
    const key = `ticks-${crypto.randomUUID()}`;
    const req = openRequest(h.url, `/probe-${label}?do=ticks&key=${key}`);
    await within(req.head, 15_000, `${where(label)}: the head`);
    await waitFor(() => /tick/.test(req.received()), `${where(label)}: a tick`, 5000);
    req.drop();
    const check = async () => (await (await h.fetch(`/probe-${label}?do=check&key=${key}`)).text()) === "aborted true AbortError";
    await waitFor(check, `${where(label)}: request.signal aborted`, 5000);
  });
});

test("a header value with a control character Fetch takes (\\x01, DEL) is a 500 function_error from every lane and child, and the host serves on", async () => {
  // Deno.serve panicked on it and the Deno host's process ended; Node's server threw at the head and answered "500 OK" internal
  await each(async (label) => {
    for (const q of ["c=1", "c=127", "c=31&stream=1"]) {
      const res = await send(h.url, { method: "GET", target: `/probe-${label}?do=ctl&${q}`, headers: [] });
      assert.is(`${res.status} ${res.statusText}`, "500 Internal Server Error", `${where(label)} ${q}`);
      const error = JSON.parse(new TextDecoder().decode(res.body)).error;
      assert.is(error.code, "function_error", `${where(label)} ${q}`);
      assert.is(error.message, 'the function answered a header no HTTP server can send: the value of "x-ctl" holds a control character', where(label));
      assert.is(await (await h.fetch(`/probe-${label}`)).text(), "plain text from GET", `${where(label)}: served on`);
    }
  });
});

test("an answer replaced by that 500 is logged and counted as the 500 the client got, not as the function's 200", async () => {
  const requests = async (label: string) => {
    const text = await (await h.fetch("/_lanes/metrics")).text();
    return (code: string) => value(parseExposition(text), "lanes_requests_total", { function: `probe-${label}`, code });
  };
  await each(async (label) => {
    const before = await requests(label);
    const ids: string[] = [];
    for (const q of ["c=1", "c=31&stream=1"]) {
      const res = await send(h.url, { method: "GET", target: `/probe-${label}?do=ctl&${q}`, headers: [] });
      assert.is(res.status, 500, `${where(label)} ${q}`);
      ids.push(res.headers.find(([k]) => k === "x-request-id")![1]);
    }
    await waitFor(() => ids.every((id) => logged.some((e) => e.requestId === id)), `${where(label)}: the access log lines`, 5000);
    assert.equal(
      ids.map((id) => logged.find((e) => e.requestId === id)!.status),
      [500, 500],
      `${where(label)}: the access log`,
    );
    const after = await requests(label);
    assert.equal([after("500") - before("500"), after("200") - before("200")], [2, 0], `${where(label)}: lanes_requests_total`);
  });
});

test.run();
