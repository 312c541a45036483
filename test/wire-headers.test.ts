/**
 * A request with many header lines: the function gets every one of them, or the host refuses the
 * request (431 on Node and Bun, 400 from Deno.serve); never the request without its last lines,
 * which a Node host's parser dropped without a word past about a thousand. Two Host lines: a 400
 * (RFC 9112, 3.2), which Node and Bun hosts served with the first; a Host value that is not a
 * host (a 400 too), which a Deno host pasted into the function's URL and routed by. Raw sockets (fetch
 * would send them, but this reads the answer as it came). Host on Node, Bun and Deno.
 */
import { connect } from "node:net";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { adapter, startTestHost, type TestHost } from "./helpers/host.ts";
import { rawRequest, withHost } from "./helpers/raw-http.ts";

const test = suite<{ h: TestHost }>(`a request with many header lines (${adapter.name} host)`);

test.before(async (ctx) => {
  ctx.h = await startTestHost({
    isolate: { entry: "echo.ts", lane: "isolate" },
    process: { entry: "echo.ts", lane: "process" },
  });
});
test.after(async ({ h }) => h.stop());

/** The raw answer to GET `path` with `count` lines x-repN (N in base 36), and what the function listed of them. */
function manyHeaders(h: TestHost, path: string, count: number): Promise<{ status: number; seen: number | undefined; raw: string }> {
  const url = new URL(h.url);
  // short lines (x-rep0:, x-rep1:, ...): 1200 of them stay under the 16 KiB a head may have
  const lines = Array.from({ length: count }, (_, i) => `x-rep${i.toString(36)}:\r\n`).join("");
  return new Promise((resolve) => {
    const sock = connect(Number(url.port), url.hostname);
    let raw = "";
    sock.on("data", (d: Buffer) => (raw += d.toString("latin1")));
    sock.on("error", () => {}); // 'close' follows
    const giveUp = setTimeout(() => sock.destroy(), 10_000);
    sock.on("close", () => {
      clearTimeout(giveUp);
      const list = /^x-header-list: (.*)$/im.exec(raw)?.[1];
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0), seen: list === undefined ? undefined : JSON.parse(list).length, raw });
    });
    sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n${lines}Connection: close\r\n\r\n`);
  });
}

test("a Host that is not a host is refused with 400 on every host, and never picks the function: Host: h/process? on GET /isolate", async ({ h }) => {
  // Deno.serve pastes the Host value before the target: a Deno host made the URL of GET /isolate
  // http://example.test/process?/isolate and routed it to the function at /process
  for (const host of ["example.test/process?", "example.test/process#", "user@example.test", "example.test?x", "a b", ""]) {
    for (const target of ["/isolate", "http://example.test/isolate"]) {
      const a = await withHost(h.url, host, `GET ${target}`);
      const url = a.headers.find(([k]) => k === "x-url")?.[1];
      assert.is(url, undefined, `Host ${host}, ${target}: reached a function as ${url}`);
      assert.is(a.status, 400, `Host ${host}, ${target}: ${JSON.stringify(a)}`);
      assert.is(JSON.parse(a.body).error.message, `the Host header is not a valid host (got ${JSON.stringify(host)})`);
    }
  }
  // an absolute-form target of another scheme is no path, on every host (a Deno host relayed
  // ftp://...; Bun's parser answers its own empty 400)
  const ftp = await rawRequest(h.url, "GET ftp://example.test/isolate HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n");
  assert.match(ftp, /^HTTP\/1\.1 400 /, ftp);
  assert.not.match(ftp, /x-url:/i, ftp);
  // an absolute-form target with no host, the first request of this file to reach the host's
  // check of the URL's authority, which took "" for the last valid one: Node's and Bun's hosts
  // read http:///isolate/isolate as the host "isolate" and the path /isolate (Deno.serve reads
  // it as a path, where no function is)
  const none = await withHost(h.url, "example.test", "GET http:///isolate/isolate");
  assert.is(none.headers.find(([k]) => k === "x-url")?.[1], undefined, JSON.stringify(none));
  assert.ok([400, 404].includes(none.status), JSON.stringify(none));
  // a valid one still reaches the function, with that host
  const ok = await withHost(h.url, "example.test:8080", "GET /isolate");
  assert.is(ok.headers.find(([k]) => k === "x-url")?.[1], "http://example.test:8080/isolate");
});

for (const lane of ["isolate", "process"]) {
  test(`${lane} lane: 1200 header lines reach the function, all of them, or the request is refused`, async ({ h }) => {
    const a = await manyHeaders(h, `/${lane}`, 1200);
    if (a.status === 200) assert.is(a.seen, 1200, "the function saw only part of the headers");
    else assert.ok([400, 431].includes(a.status), a.raw.slice(0, 300));
    // a few lines are nothing special: every host passes them on
    const few = await manyHeaders(h, `/${lane}`, 50);
    assert.equal([few.status, few.seen], [200, 50], few.raw.slice(0, 300));
  });
}

test("a request with two Host lines is refused with 400, for a function's path and for lanes' own, and no function sees it", async ({ h }) => {
  const url = new URL(h.url);
  for (const path of ["/isolate", "/process", "/_lanes/health"]) {
    const raw = await new Promise<string>((resolve) => {
      const sock = connect(Number(url.port), url.hostname);
      let got = "";
      sock.on("data", (d: Buffer) => (got += d.toString("latin1")));
      sock.on("error", () => {}); // 'close' follows
      sock.on("close", () => resolve(got));
      sock.write(`GET ${path} HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n`);
    });
    assert.match(raw, /^HTTP\/1\.1 400 /, `${path}: ${raw.slice(0, 300)}`);
    assert.not.match(raw, /x-url:/i, `${path} reached a function`);
  }
});

test.run();
