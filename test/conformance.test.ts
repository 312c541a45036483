/**
 * The conformance suite: what a client sees from a function, the same in both lanes. Runs with
 * the host on Node, Bun and Deno (test/run.mjs).
 */
import { request as httpRequest } from "node:http";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { poolOf, waitFor } from "./helpers/chaos.ts";
import { adapter, LANES, startTestHost, type TestHost } from "./helpers/host.ts";
import { pipelined, type RawAnswer } from "./helpers/raw-http.ts";

process.env.LANES_TEST_HOST_SECRET = "must-not-leak";
/** BIG: the largest value a manifest may give (ENV_VALUE_MAX_BYTES), which a process-lane child is started with. */
const ENV = { GREETING: "hi", EMPTY: "", BIG: "x".repeat(32 * 1024) };

for (const lane of LANES) {
  const test = suite<{ h: TestHost }>(`conformance: ${lane} lane`);
  const fn = (entry: string, extra: Record<string, unknown> = {}) => ({ entry, lane, ...extra });

  test.before(async (ctx) => {
    ctx.h = await startTestHost({
      echo: fn("echo.ts", { route: "/echo/:a?/:b?", maxBodyBytes: 8 * 1024 * 1024 }),
      status: fn("status.ts", { route: "/status/:code" }),
      cookies: fn("cookies.ts"),
      env: fn("env.ts", { env: ENV }),
      postonly: fn("echo.ts", { route: "/post-only", methods: ["POST", "PUT"] }),
      hono: fn("hono-app.ts", { route: "/hono/*" }),
      same: fn("same-buffer.ts"),
      used: fn("used-body.ts", { route: "/used/:case" }),
      chunks: fn("stream-chunks.ts", { route: "/chunks/:kind", instances: { min: 1, max: 1 } }),
      // one instance: a request in flight beside another shares it
      framing: fn("framing.ts", { route: "/framing/:case", instances: { min: 1, max: 1 } }),
    });
  });
  test.after(async ({ h }) => h.stop());

  test("a Response whose body the function read, or whose stream it locked, is a function error; a part-read stream sends the rest", async ({ h }) => {
    for (const which of ["read", "locked"]) {
      const res = await h.fetch(`/used/${which}`);
      assert.is(res.status, 500, which);
      const body = (await res.json()) as { error: { code: string } };
      assert.is(body.error.code, "function_error", which);
    }
    const rest = await h.fetch("/used/partly-read");
    assert.is(rest.status, 200);
    assert.is(await rest.text(), "two,three");
    const bytes = await h.fetch("/used/bytes-changed-after");
    assert.is(await bytes.text(), "as made", "the bytes as they were when the Response was made");
    assert.is((await h.fetch("/used/read")).status, 500, "the host still serves the function");
  });

  test("a body stream that yields something other than bytes is a function error that says so; on Bun a string or ArrayBuffer is sent as Bun's server sends it", async ({ h }) => {
    const refused = async (path: string, got: string) => {
      const res = await h.fetch(path);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.is(res.status, 500, `${path}: ${JSON.stringify(body)}`);
      assert.is(body.error.code, "function_error");
      assert.match(body.error.message, new RegExp(`a Response body stream must yield Uint8Array chunks.* \\(got ${got}\\)$`));
    };
    await refused("/chunks/number", "number");
    if (adapter.name === "bun") {
      assert.is(await (await h.fetch("/chunks/string")).text(), "héllo");
      assert.equal([...new Uint8Array(await (await h.fetch("/chunks/array-buffer")).arrayBuffer())], [1, 2, 3]);
    } else {
      await refused("/chunks/string", "string");
      await refused("/chunks/array-buffer", "ArrayBuffer");
    }
  });

  test("the chunks a function streams stay its own: one it keeps still holds its bytes afterwards", async ({ h }) => {
    const res = await h.fetch("/chunks/kept");
    const got = new Uint8Array(await res.arrayBuffer());
    assert.is(got.byteLength, 140_000);
    assert.ok(got.subarray(0, 40_000).every((b) => b === 1) && got.subarray(40_000).every((b) => b === 2), "the client got the bytes");
    // as on the platform's own server: the function's arrays are not emptied (moved away) by sending them
    assert.is(await (await h.fetch("/chunks/kept-report")).text(), "40000:1,100000:2");
  });

  test("a binary body with every byte value comes back intact", async ({ h }) => {
    const bytes = new Uint8Array(512).map((_, i) => i % 256);
    const res = await h.fetch("/echo", { method: "POST", body: bytes });
    assert.is(res.status, 200);
    assert.equal(new Uint8Array(await res.arrayBuffer()), bytes);
  });

  test("an empty POST body arrives empty and the response has no body", async ({ h }) => {
    const res = await h.fetch("/echo", { method: "POST", body: "" });
    assert.is(res.status, 200);
    assert.is(res.headers.get("x-body-length"), "0");
    assert.is(await res.text(), "");
  });

  test("a 5 MB body crosses the lane both ways byte for byte", async ({ h }) => {
    const big = new Uint8Array(5 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
    const res = await h.fetch("/echo", { method: "PUT", body: big });
    assert.is(res.status, 200);
    const back = new Uint8Array(await res.arrayBuffer());
    assert.is(back.length, big.length);
    assert.ok(
      back.every((b, i) => b === big[i]),
      "bytes differ",
    );
  });

  test("unicode text survives the round trip", async ({ h }) => {
    const text = "héllo wörld ✓ 日本語 🚀 \u0000 end";
    const res = await h.fetch("/echo", { method: "POST", body: text, headers: { "content-type": "text/plain; charset=utf-8" } });
    assert.is(await res.text(), text);
    assert.is(res.headers.get("content-type"), "text/plain; charset=utf-8");
  });

  test("the function sees the full URL, the method and request headers", async ({ h }) => {
    const res = await h.fetch("/echo/x/y?q=1&r=2", { method: "PATCH", headers: { "x-custom": "v1" }, body: "b" });
    assert.is(res.headers.get("x-method"), "PATCH");
    assert.is(res.headers.get("x-url"), `${h.url}/echo/x/y?q=1&r=2`);
    assert.is(res.headers.get("x-got-header"), "v1");
    assert.equal(JSON.parse(res.headers.get("x-params")!), { a: "x", b: "y" });
    assert.is(res.headers.get("x-lane"), lane);
  });

  test("a header sent on several lines reaches the function joined, as the platform's Headers joins it", async ({ h }) => {
    // node:http sends an array value as one line per element: the host gets the lines apart
    const list = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(`${h.url}/echo`, { headers: { "x-rep": ["1", "2"], "X-Rep-Case": "Aa", "x-rep-empty": "" } }, (res) => {
        res.resume();
        res.on("end", () => resolve(String(res.headers["x-header-list"])));
      });
      req.on("error", reject);
      req.end();
    });
    const expected = [
      ...new Headers([
        ["x-rep", "1"],
        ["x-rep", "2"],
        ["X-Rep-Case", "Aa"],
        ["x-rep-empty", ""],
      ]),
    ].filter(([name]) => name.startsWith("x-rep"));
    assert.equal(JSON.parse(list), expected);
    assert.equal(expected, [
      ["x-rep", "1, 2"],
      ["x-rep-case", "Aa"],
      ["x-rep-empty", ""],
    ]);
  });

  test("statuses 201, 204 and 302 reach the client as the function set them", async ({ h }) => {
    const created = await h.fetch("/status/201");
    assert.is(created.status, 201);
    assert.is(await created.text(), "status 201");
    const empty = await h.fetch("/status/204");
    assert.is(empty.status, 204);
    assert.is(await empty.text(), "");
    const moved = await h.fetch("/status/302", { redirect: "manual" });
    assert.is(moved.status, 302);
    assert.is(moved.headers.get("location"), "/elsewhere");
  });

  test("two set-cookie headers and a repeated header are both kept", async ({ h }) => {
    const res = await h.fetch("/cookies");
    assert.equal(res.headers.getSetCookie(), ["a=1; Path=/", "b=2; Path=/"]);
    assert.is(res.headers.get("x-multi"), "one, two");
  });

  test("every response carries x-request-id, and ctx.requestId matches it", async ({ h }) => {
    const res = await h.fetch("/echo");
    const id = res.headers.get("x-request-id");
    assert.match(id ?? "", /^[0-9a-f-]{36}$/);
    assert.is(res.headers.get("x-ctx-request-id"), id);
    const other = await h.fetch("/echo");
    assert.is.not(other.headers.get("x-request-id"), id);
    const missing = await h.fetch("/nothing-here");
    assert.match(missing.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  });

  test("an unknown path is a JSON 404 not_found", async ({ h }) => {
    const res = await h.fetch("/no/such/route");
    assert.is(res.status, 404);
    const body = await res.json();
    assert.is(body.error.code, "not_found");
    assert.is(body.error.requestId, res.headers.get("x-request-id"));
  });

  test("a method the manifest does not allow is a JSON 405 with Allow", async ({ h }) => {
    const res = await h.fetch("/post-only");
    assert.is(res.status, 405);
    assert.is((await res.json()).error.code, "method_not_allowed");
    assert.is(res.headers.get("allow"), "POST, PUT");
    const ok = await h.fetch("/post-only", { method: "POST", body: "x" });
    assert.is(ok.status, 200);
  });

  test("env holds exactly the manifest's env; the host environment does not leak", async ({ h }) => {
    const res = await h.fetch("/env");
    const seen = await res.json();
    assert.equal(seen.env, ENV);
    assert.equal(seen.processEnv, ENV);
    if (seen.denoEnv) assert.equal(seen.denoEnv, ENV);
    if (seen.bunEnv) assert.equal(seen.bunEnv, ENV);
    assert.not.match(JSON.stringify(seen), /must-not-leak/);
  });

  test("a Hono app works as a function, with its own routing", async ({ h }) => {
    const res = await h.fetch("/hono/items/42");
    assert.is(res.status, 200);
    assert.equal(await res.json(), { id: "42", via: "hono" });
  });

  test("a function returning the same bytes object twice answers the same both times", async ({ h }) => {
    assert.is(await (await h.fetch("/same")).text(), "always the same bytes");
    assert.is(await (await h.fetch("/same")).text(), "always the same bytes");
  });

  test("concurrent requests each get their own answer", async ({ h }) => {
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => h.fetch(`/echo/${i}`).then((r) => JSON.parse(r.headers.get("x-params")!).a)));
    assert.equal(
      answers,
      Array.from({ length: 40 }, (_, i) => String(i)),
    );
  });

  test("pipelined requests on one connection each get their own answer, whatever Content-Length or Transfer-Encoding a function set", async ({ h }) => {
    // a function's framing sent as it was: "forged" ended its answer after 2 bytes and its rest
    // was read as the answer to the next request; "long" made the client wait for 95 more bytes.
    // A stream keeps its length, held to it: "stream-forged" is its first 2 bytes (a stream
    // short of its length closes the connection: wire-stream-length.test.ts)
    const cases = ["forged", "long", "stream-forged", "chunked", "stream-chunked", "no-content", "not-modified"];
    const answers = await pipelined(h.url, [...cases.map((c) => `GET /framing/${c}`), "HEAD /framing/head-length", "GET /framing/ok"]);
    const forged = "hiHTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nforged!";
    assert.equal(
      answers.map((a) => [a.status, a.body]),
      [
        [200, forged],
        [200, "short"],
        [200, "hi"],
        [200, "hello"],
        [200, "hello"],
        [204, ""],
        [304, ""],
        [200, ""],
        [200, "ok"],
      ],
    );
    for (const [i, a] of answers.entries()) {
      const framing = a.headers.filter(([k]) => k === "content-length" || k === "transfer-encoding");
      assert.ok(framing.length <= 1, `answer ${i + 1} is framed twice: ${JSON.stringify(framing)}`);
      if (framing[0]?.[0] === "content-length" && a.status === 200 && i !== 7) assert.is(Number(framing[0][1]), a.body.length, `answer ${i + 1}`);
      assert.equal(requestIds(a).length, 1, `answer ${i + 1}: ${JSON.stringify(a.headers)}`);
    }
    assert.equal(header(answers[3]!, "transfer-encoding"), [], "a body the host has whole is sent with its length, not chunked");
    assert.equal(header(answers[5]!, "content-length"), [], "a 204 has no Content-Length");
    // no body follows a HEAD answer: its Content-Length says how long the GET's body would be
    assert.equal(header(answers[7]!, "content-length"), ["1234"]);
  });

  test("a function's Connection, Upgrade and other hop-by-hop headers are not sent, and x-request-id is the host's alone", async ({ h }) => {
    const [hop, next] = await pipelined(h.url, ["GET /framing/hop", "GET /framing/ok"]);
    assert.is(hop!.body, "hop");
    for (const name of ["proxy-connection", "te", "trailer", "upgrade", "transfer-encoding"]) assert.equal(header(hop!, name), [], name);
    // the server's own, where it sends them (Node's node:http does), not the function's
    assert.not.ok(header(hop!, "keep-alive").includes("timeout=99"), "the function's Keep-Alive");
    assert.not.ok(header(hop!, "connection").includes("close"), "the function's Connection: close");
    assert.equal(header(hop!, "x-kept"), ["1"]);
    assert.match(requestIds(hop!).join(), /^[0-9a-f-]{36}$/);
    assert.is(next!.body, "ok", "the connection carried the next request");
  });

  test("an answer with 40,000 headers is a 500 function_error naming the limit; a request in flight on the same instance is answered", async ({ h }) => {
    const pool = poolOf(h, "framing");
    const slow = h.fetch("/framing/slow?ms=600").then(async (r) => [r.status, await r.text()]);
    await waitFor(() => pool.instances.some((i) => i.inflight === 1), "the slow request is in flight");
    const res = await h.fetch("/framing/headers?n=40000");
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    assert.is(res.status, 500);
    assert.is(error.code, "function_error");
    assert.match(error.message, /40001 headers: at most 32000/);
    const [status, instance] = await slow;
    assert.is(status, 200, String(instance));
    assert.is(await (await h.fetch("/framing/slow")).text(), instance, "the same instance serves on");
  });

  test("the same answer with a streamed body is the same 500, within the function's timeoutMs (Deno's Headers iterator sorts the whole list for each pair)", async ({ h }) => {
    const res = await h.fetch("/framing/headers?n=40000&stream=1");
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    assert.is(res.status, 500, JSON.stringify(error));
    assert.is(error.code, "function_error");
    assert.match(error.message, /40000 headers: at most 32000/, error.message);
  });

  test("a function's 101 (Bun's and Deno's Response take one) is a 500 function_error, not a switch of protocol", async ({ h }) => {
    const [res, next] = await pipelined(h.url, ["GET /framing/switching", "GET /framing/ok"]);
    assert.is(res!.status, 500, JSON.stringify(res));
    assert.is(JSON.parse(res!.body).error.code, "function_error");
    assert.is(next!.body, "ok");
  });

  test.run();
}

const header = (a: RawAnswer, name: string) => a.headers.filter(([k]) => k === name).map(([, v]) => v);
const requestIds = (a: RawAnswer) => header(a, "x-request-id");
