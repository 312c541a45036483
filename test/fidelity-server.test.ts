/**
 * What a function sees of a request through lanes, against what it sees served by the bare
 * runtime's own server (Deno.serve, Bun.serve, a node:http server through @hono/node-server),
 * both seen by a raw HTTP client: the differential suite's oracle builds its Request in-process,
 * which cannot show what a server does with the request's lines (repeated Cookie lines joined,
 * methods of their own). In the isolate lane and with a node, a bun and a deno child, with the
 * host on Node, Bun and Deno (test/run.mjs).
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Buffer } from "node:buffer";
import type { RuntimeName } from "../adapters/types.ts";
import { type BareServer, startBareServer } from "./helpers/bare-server.ts";
import { type RequestSpec, send } from "./helpers/differential/raw-client.ts";
import { waitFor } from "./helpers/chaos.ts";
import { adapter, fixtures, startTestHost, type TestHost } from "./helpers/host.ts";

const COMBOS: { label: string; lane: "isolate" | "process"; runtime: RuntimeName }[] = [
  { label: "isolate", lane: "isolate", runtime: adapter.name },
  ...(["node", "bun", "deno"] as const).map((rt) => ({ label: `process-${rt}`, lane: "process" as const, runtime: rt })),
];
const test = suite<{ h: TestHost; bare: Map<RuntimeName, BareServer> }>(`fidelity against the bare server (${adapter.name} host)`);

test.before(async (ctx) => {
  const functions: Record<string, Record<string, unknown>> = {};
  for (const c of COMBOS) {
    functions[`echo-${c.label}`] = {
      entry: "bare-echo.ts",
      route: `/echo-${c.label}/*`,
      lane: c.lane,
      ...(c.lane === "process" ? { runtime: c.runtime } : {}),
      instances: { min: 0, max: 1 },
    };
  }
  const [h, ...bare] = await Promise.all([startTestHost(functions), ...(["node", "bun", "deno"] as const).map((rt) => startBareServer(rt, `${fixtures}bare-echo.ts`))]);
  ctx.h = h;
  ctx.bare = new Map([
    ["node", bare[0]!],
    ["bun", bare[1]!],
    ["deno", bare[2]!],
  ]);
});
test.after(async ({ h, bare }) => {
  await Promise.all([h?.stop(), ...[...(bare?.values() ?? [])].map((b) => b.stop())]);
});

/** The same request to lanes and to the bare server of the runtime that runs the function: what the function saw, each. */
async function bothSee(ctx: { h: TestHost; bare: Map<RuntimeName, BareServer> }, spec: (route: string) => RequestSpec) {
  return Promise.all(
    COMBOS.map(async (c) => {
      const route = `/echo-${c.label}`;
      const [lanes, bare] = await Promise.all([send(ctx.h.url, spec(route)), send(ctx.bare.get(c.runtime)!.url, spec(route))]);
      const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");
      return { where: `${c.label} (${adapter.name} host) against bare ${c.runtime}`, lanes: `${lanes.status} ${text(lanes.body)}`, bare: `${bare.status} ${text(bare.body)}` };
    }),
  );
}

test("a method of the function's own (PURGE, PROPFIND with a body) reaches it as it does on the bare runtime", async (ctx) => {
  for (const [method, body] of [
    ["PURGE", undefined],
    ["PROPFIND", '<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>'],
    ["REPORT", "<report/>"],
  ] as const) {
    const seen = await bothSee(ctx, (route) => ({
      method,
      target: `${route}/dav/file.txt`,
      headers: body ? [["content-type", "application/xml"]] : [],
      ...(body ? { body: new TextEncoder().encode(body) } : {}),
    }));
    for (const s of seen) {
      assert.match(s.bare, new RegExp(`^200 \\{"method":"${method}"`), `${s.where}: the bare server`);
      assert.is(s.lanes, s.bare, `${method}: ${s.where}`);
    }
  }
});

test("repeated Cookie lines reach the function as one cookie-string joined with '; ', as on the bare runtime", async (ctx) => {
  const seen = await bothSee(ctx, (route) => ({
    method: "GET",
    target: `${route}/cookies`,
    headers: [
      ["cookie", "a=1"],
      ["x-between", "x"],
      ["Cookie", "b=2; c=3"],
    ],
  }));
  for (const s of seen) {
    assert.match(s.bare, /"cookie","a=1; b=2; c=3"/, `${s.where}: the bare server`);
    assert.is(s.lanes, s.bare, s.where);
  }
});

test('the web classes keep their names: request.constructor.name is "Request", a Response\'s "Response", as on the bare runtime', async (ctx) => {
  const names = '200 ["Request","Response","Request","Response","Response"]';
  const seen = await bothSee(ctx, (route) => ({ method: "GET", target: `${route}/classes`, headers: [] }));
  for (const s of seen) {
    // @hono/node-server hands the function a Request look-alike of its own (Request$1): on Node the platform's class names are the oracle
    if (!/bare node$/.test(s.where)) assert.is(s.bare, names, `${s.where}: the bare server`);
    assert.is(s.lanes, names, s.where);
  }
});

test("a HEAD to an endless event stream is answered with its head and ends, and the function's stream is cancelled, as on the bare runtime", async (ctx) => {
  await Promise.all(
    COMBOS.map(async (c) => {
      const route = `/echo-${c.label}`;
      // @hono/node-server pumps the endless stream into a HEAD answer that drops it: on Node, Deno.serve's and Bun.serve's behaviour is the oracle
      const servers: [string, string][] = [["lanes", ctx.h.url]];
      if (c.runtime !== "node") servers.push([`bare ${c.runtime}`, ctx.bare.get(c.runtime)!.url]);
      for (const [name, url] of servers) {
        const where = `${c.label} (${adapter.name} host), ${name}`;
        const before = await (await fetch(`${url}${route}/events-cancelled`)).text();
        // the raw client waits for the connection to close (it asks Connection: close)
        const head = await send(url, { method: "HEAD", target: `${route}/events`, headers: [] }, 5000);
        assert.is(head.status, 200, where);
        assert.ok(
          head.headers.some(([k, v]) => k === "content-type" && v === "text/event-stream"),
          where,
        );
        await waitFor(async () => (await (await fetch(`${url}${route}/events-cancelled`)).text()) !== before, `${where}: the stream cancelled`, 5000);
      }
    }),
  );
});

test.run();
