/**
 * Request targets that spell one path and name another: dot segments ("/./", "/../", "%2e%2e")
 * and a backslash, which the function's Request resolves (WHATWG URL). The host routes by the
 * path the function will see, so no function gets a request for a path outside its route, least
 * of all one under /_lanes/, and lanes' own routes answer theirs. And `OPTIONS *`, which is no
 * path. Raw sockets: fetch() resolves the path before it sends it. Host on Node, Bun and Deno
 * (test/run.mjs).
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { adapter, startTestHost, type TestHost } from "./helpers/host.ts";
import { type RawAnswer, withHost } from "./helpers/raw-http.ts";

const test = suite<{ h: TestHost }>(`request targets with dot segments (${adapter.name} host)`);

test.before(async (ctx) => {
  ctx.h = await startTestHost({
    echo: { entry: "echo.ts", route: "/echo/:rest", lane: "isolate" },
    // every path a function may have: what reaches it is what the host routed to a function
    all: { entry: "echo.ts", route: "/*", lane: "isolate" },
  });
  // its health says "ok" once the start-up load check has ended ("starting" before)
  await ctx.h.host.checked;
});
test.after(async ({ h }) => h.stop());

// a name of this machine: a host on loopback answers lanes' own routes only for one (misdirected-host.ts)
const raw = (h: TestHost, target: string): Promise<RawAnswer> => withHost(h.url, "app.localhost", `GET ${target}`);
const header = (a: RawAnswer, name: string) => a.headers.find(([k]) => k === name)?.[1];

test("a target that resolves to lanes' own route is answered by lanes, and no function sees a request for /_lanes/", async ({ h }) => {
  for (const target of ["/echo/../_lanes/functions", "/./_lanes/functions", "/echo/%2e%2e/_lanes/functions", "/x/%2E%2E/_lanes/functions"]) {
    const a = await raw(h, target);
    assert.is(header(a, "x-url"), undefined, `${target} reached a function as ${header(a, "x-url")}`);
    assert.is(a.status, 200, `${target}: ${a.body.slice(0, 200)}`);
    assert.ok(Array.isArray(JSON.parse(a.body).functions), `${target}: ${a.body.slice(0, 200)}`);
  }
  // a backslash, which URL parsing reads as "/": @hono/node-server makes no Request of it (a
  // 400 on Node and Bun); whatever the answer, it is lanes' own, with an x-request-id and JSON
  for (const target of ["/_lanes\\functions", "/_lanes/x\\y"]) {
    const a = await raw(h, target);
    assert.is(header(a, "x-url"), undefined, `${target} reached a function as ${header(a, "x-url")}`);
    assert.ok(header(a, "x-request-id"), `${target}: ${a.status} without an x-request-id: ${JSON.stringify(a)}`);
    assert.type(JSON.parse(a.body), "object", target);
  }
  const health = await raw(h, "/echo/../_lanes/health");
  assert.equal(JSON.parse(health.body), { status: "ok" });
});

test("a target that resolves out of a reserved path reaches the function routed at the path it resolves to, with that URL", async ({ h }) => {
  for (const [target, path] of [
    ["/_lanes/../echo/b", "/echo/b"],
    ["/echo/./a/../b?q=1", "/echo/b?q=1"],
    ["/other/%2e%2e/echo/c", "/echo/c"],
  ]) {
    const a = await raw(h, target!);
    assert.is(a.status, 200, `${target}: ${a.body.slice(0, 200)}`);
    assert.is(header(a, "x-url"), `http://app.localhost${path}`, target);
    // the route it matched is the one of the path it sees
    assert.is(header(a, "x-params"), JSON.stringify({ rest: path!.slice(6, 7) }), target);
  }
});

test("OPTIONS * is answered by lanes with its JSON error and an x-request-id on every host (Bun's parser cannot read it: an empty 400 came)", async ({ h }) => {
  const a = await withHost(h.url, "app.localhost", "OPTIONS *");
  assert.ok(header(a, "x-request-id"), `${a.status} without an x-request-id: ${JSON.stringify(a)}`);
  if (adapter.name === "deno") {
    // Deno.serve hands it on as the path /* (its Request cannot tell it from OPTIONS /*), as the
    // bare Deno.serve hands it to the function: the function routed there answers
    assert.is(header(a, "x-url"), "http://app.localhost/*", JSON.stringify(a));
    return;
  }
  assert.is(a.status, 400, JSON.stringify(a));
  assert.equal(JSON.parse(a.body).error.code, "bad_request");
  assert.is(JSON.parse(a.body).error.message, 'the request target must be a path (got "*")');
  assert.is(header(a, "x-url"), undefined, "it reached a function");
});

test.run();
