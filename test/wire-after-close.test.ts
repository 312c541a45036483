/**
 * Bytes a client sends after a request that closes its connection (`Connection: close`, or an
 * HTTP/1.0 request without keep-alive): the request before them is answered, by its function,
 * and nothing after it is. Node's parser took them for a malformed request, and its 400 went out
 * in place of the answer, though the function had run. And a request pipelined after an answer
 * that said Connection: close is not served (a Deno host served it). Bytes after a request that
 * no parser reads: the same, the answer first. A body the parser cannot read: a 400, never one
 * naming a method (a Bun host named "post"). Raw sockets, host on Node, Bun and Deno.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { adapter, startTestHost, type TestHost } from "./helpers/host.ts";
import { rawRequest } from "./helpers/raw-http.ts";

const test = suite<{ h: TestHost }>(`bytes after a request that closes the connection (${adapter.name} host)`);

test.before(async (ctx) => {
  ctx.h = await startTestHost({ echo: { entry: "echo.ts", route: "/echo/:name", lane: "isolate", maxBodyBytes: 100 } });
});
test.after(async ({ h }) => h.stop());

const statuses = (raw: string) => [...raw.matchAll(/^HTTP\/1\.[01] (\d{3})/gm)].map((m) => Number(m[1]));
const urls = (raw: string) => [...raw.matchAll(/^x-url: (.*)$/gim)].map((m) => new URL(m[1]!.trim()).pathname);

test("a request with Connection: close followed by another is answered by its function, and the other is not served", async ({ h }) => {
  const raw = await rawRequest(h.url, "GET /echo/first HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /echo/after HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal(statuses(raw), [200], raw.slice(0, 300));
  assert.equal(urls(raw), ["/echo/first"]);
});

test("pipelined HTTP/1.0 requests: each up to the first without keep-alive is answered, nothing after it", async ({ h }) => {
  const raw = await rawRequest(
    h.url,
    "GET /echo/one HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\nGET /echo/two HTTP/1.0\r\nHost: x\r\n\r\nGET /echo/three HTTP/1.0\r\nHost: x\r\n\r\n",
  );
  const served = urls(raw);
  // a host may close after the first (Bun's node:http does not keep an HTTP/1.0 connection): the
  // client sends the rest again; but what it gets is answers, from the function, in order
  assert.ok(served.length >= 1 && served.length <= 2, raw.slice(0, 600));
  assert.equal(served, ["/echo/one", "/echo/two"].slice(0, served.length));
  assert.equal(
    statuses(raw),
    served.map(() => 200),
    raw.slice(0, 600),
  );
});

test("a request refused before its body is read, with another pipelined after it: an answer that says Connection: close is the last", async ({ h }) => {
  // the refused body holds a request of its own: it is never one
  const body = "GET /echo/inside HTTP/1.1\r\nHost: x\r\n\r\n".padEnd(200, "x");
  for (const refused of ["POST /echo/big", "POST /no-such-function"]) {
    const raw = await rawRequest(
      h.url,
      `${refused} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}GET /echo/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    const first = raw.slice(0, raw.indexOf("\r\n\r\n"));
    const says = /^connection: *close/im.test(first) ? "close" : "keep-alive";
    // RFC 9112, 9.6: a server that says close processes nothing after it (the client sends it
    // again, on a new connection: served here too, it ran twice); one that keeps it answers it
    assert.equal(urls(raw), says === "close" ? [] : ["/echo/next"], `${refused}: the answer said ${says}; ${raw.slice(0, 500)}`);
    assert.is(statuses(raw)[0], refused.includes("big") ? 413 : 404, raw.slice(0, 300));
  }
});

test("a request followed by bytes no parser reads (GET, then GARBAGE): the request is answered by its function, then the connection closes", async ({ h }) => {
  // Node's parser failed on the bytes while the function ran, and its 400 went out in place of
  // the answer; Bun.serve and Deno.serve answer first. Slow enough to be answered after the
  // parser has failed on what follows
  for (const after of ["GARBAGE\r\n\r\n", "M5X /echo/two HTTP/1.1\r\nHost: x\r\n\r\n", "GET /echo/two HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"]) {
    const raw = await rawRequest(h.url, `POST /echo/first HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab${after}`);
    assert.is(statuses(raw)[0], 200, `${JSON.stringify(after)}: ${raw.slice(0, 300)}`);
    assert.equal(urls(raw), ["/echo/first"], raw.slice(0, 300));
    assert.match(raw, /x-body-length: 2\r\n/i);
  }
});

test("a body the parser cannot read (a bad chunk, a Content-Length trailer) gets a 400 or a closed connection, never an answer about its method", async ({ h }) => {
  const head = "POST /echo/chunks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  for (const chunks of ["0x4\r\nabcd\r\n0\r\n\r\n", "+4\r\nabcd\r\n0\r\n\r\n", "4\r\nabcdXX0\r\n\r\n", "4\r\nabcd\r\n0\r\nContent-Length: 5\r\n\r\n"]) {
    const raw = await rawRequest(h.url, head + chunks);
    // Bun hands on the request as the bytes that failed, its method in lower case: a Bun host
    // answered 'the method "post" is not one a lanes host serves' and logged a request "post"
    assert.not.match(raw, /not one a lanes host serves/, `${JSON.stringify(chunks)}: ${raw.slice(0, 400)}`);
    // Deno.serve takes a trailer's Content-Length as a trailer, and the function gets the body
    if (adapter.name === "deno" && chunks.includes("Content-Length")) assert.equal(urls(raw), ["/echo/chunks"], raw.slice(0, 300));
    else assert.ok(raw === "" || /^HTTP\/1\.1 400 /.test(raw), `${JSON.stringify(chunks)}: ${raw.slice(0, 300)}`);
  }
  assert.not.ok(
    h.logs.some((l) => /"method":"post"/.test(l)),
    h.logs.filter((l) => l.includes("post")).join(""),
  );
});

test.run();
