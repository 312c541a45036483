/**
 * A function's streamed body with its own Content-Length, against Deno.serve serving the same
 * export (the platform whose rule lanes follows; Node's server sends the length and whatever
 * bytes come, so a longer stream's rest was read as the next answer; Bun.serve sends every
 * stream chunked). The length is sent, and the host holds the body to it on the connection:
 * bytes past it are not sent, the next answer on the connection intact; a stream that ends short
 * of it is cut and the connection closed, nothing after it answered. Raw sockets; the isolate
 * lane and a node, a bun and a deno child; host on Node, Bun and Deno (test/run.mjs).
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { RuntimeName } from "../adapters/types.ts";
import { type BareServer, startBareServer } from "./helpers/bare-server.ts";
import { waitFor } from "./helpers/chaos.ts";
import { adapter, fixtures, startTestHost, type TestHost } from "./helpers/host.ts";
import { pipelined, type RawAnswer, rawRequest } from "./helpers/raw-http.ts";

const COMBOS: { label: string; lane: "isolate" | "process"; runtime: RuntimeName }[] = [
  { label: "isolate", lane: "isolate", runtime: adapter.name },
  ...(["node", "bun", "deno"] as const).map((rt) => ({ label: `process-${rt}`, lane: "process" as const, runtime: rt })),
];
const test = suite<{ h: TestHost; deno: BareServer }>(`a streamed body with its own Content-Length (${adapter.name} host)`);

test.before(async (ctx) => {
  const functions: Record<string, Record<string, unknown>> = {};
  for (const c of COMBOS) {
    functions[`len-${c.label}`] = {
      entry: "stream-length.ts",
      route: `/len-${c.label}/:case`,
      lane: c.lane,
      ...(c.lane === "process" ? { runtime: c.runtime } : {}),
      instances: { min: 1, max: 1 },
    };
  }
  [ctx.h, ctx.deno] = await Promise.all([startTestHost(functions), startBareServer("deno", `${fixtures}stream-length.ts`)]);
});
test.after(async ({ h, deno }) => {
  await Promise.all([h?.stop(), deno?.stop()]);
});

const header = (a: RawAnswer, name: string) => a.headers.filter(([k]) => k === name).map(([, v]) => v);
/** What a client reads of an answer: status, body and how it was framed. */
const seen = (a: RawAnswer) => ({ status: a.status, body: a.body, length: header(a, "content-length"), chunked: header(a, "transfer-encoding") });
const statusLines = (raw: string) => raw.match(/^HTTP\/1\.1 \d{3}/gm) ?? [];

/** The same requests to lanes (each combination) and to the bare Deno.serve. */
async function everywhere(ctx: { h: TestHost; deno: BareServer }, body: (url: string, route: string, where: string) => Promise<void>) {
  await body(ctx.deno.url, "/bare", "bare Deno.serve");
  for (const c of COMBOS) await body(ctx.h.url, `/len-${c.label}`, `${c.label} (${adapter.name} host)`);
}

test("the length is sent, not chunked, and the body is exactly that; a HEAD answer says it too", async (ctx) => {
  await everywhere(ctx, async (url, route, where) => {
    const answers = await pipelined(url, [`GET ${route}/exact`, `HEAD ${route}/exact`, `GET ${route}/exact`]);
    assert.equal(
      answers.map(seen),
      [
        { status: 200, body: "hello", length: ["5"], chunked: [] },
        { status: 200, body: "", length: ["5"], chunked: [] },
        { status: 200, body: "hello", length: ["5"], chunked: [] },
      ],
      where,
    );
  });
});

test("a stream longer than its length: that many bytes go out, the rest never reaches the connection, the next answer on it is intact, and the function's stream is stopped", async (ctx) => {
  await everywhere(ctx, async (url, route, where) => {
    const answers = await pipelined(url, [`GET ${route}/forged`, `GET ${route}/exact`]);
    assert.equal(
      answers.map(seen),
      [
        { status: 200, body: "hi", length: ["2"], chunked: [] },
        { status: 200, body: "hello", length: ["5"], chunked: [] },
      ],
      where,
    );
    const before = Number(await (await fetch(`${url}${route}/cancelled`)).text());
    const [endless, next] = await pipelined(url, [`GET ${route}/endless`, `GET ${route}/exact`]);
    assert.equal([seen(endless!), next!.body], [{ status: 200, body: "tick\n", length: ["5"], chunked: [] }, "hello"], where);
    await waitFor(async () => Number(await (await fetch(`${url}${route}/cancelled`)).text()) > before, `${where}: the endless stream cancelled`, 5000);
  });
});

test("a stream that ends short of its length is cut: its bytes, then the connection closes, and nothing after it on the connection is answered", async (ctx) => {
  await everywhere(ctx, async (url, route, where) => {
    const raw = await rawRequest(url, `GET ${route}/long HTTP/1.1\r\nHost: x\r\n\r\nGET ${route}/exact HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(statusLines(raw), ["HTTP/1.1 200"], `${where}: ${JSON.stringify(raw)}`);
    assert.match(raw, /\r\ncontent-length: 100\r\n/i, where);
    assert.ok(raw.endsWith("\r\n\r\nshort"), `${where}: ${JSON.stringify(raw)}`);
  });
});

test.run();
