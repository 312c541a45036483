/**
 * The light Response a guest may hand to functions (runtime/guest/light-response.ts): to the
 * function it must read like the runtime's own Response, and the guest must get its parts
 * without a stream. Runs on Node, Bun and Deno (only the class, never installed globally here).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { lightParts, lightResponseClass } from "../runtime/guest/light-response.ts";

const Light = lightResponseClass(Response);
const text = (b: Uint8Array | null) => (b ? new TextDecoder().decode(b) : null);

test("a light Response reads like the runtime's: status, statusText, headers, body", async () => {
  const r = new Light("hi", { status: 201, statusText: "Made", headers: { "X-One": "1" } });
  assert.is(r.status, 201);
  assert.is(r.statusText, "Made");
  assert.ok(r.ok);
  assert.is(r.headers.get("x-one"), "1");
  assert.is(r.headers.get("content-type"), "text/plain;charset=UTF-8");
  assert.is(await r.text(), "hi");
  assert.ok(r.bodyUsed);
});

test("instanceof Response holds for light and native responses alike", () => {
  assert.ok(new Light("x") instanceof Response);
  assert.ok(new Light("x") instanceof Light);
  assert.ok(new Response("x") instanceof Light);
  assert.not.ok({} instanceof Light);
});

test("the guest gets status, lower-cased headers and its own copy of the bytes, without a stream", () => {
  const bytes = new Uint8Array([1, 2, 3]);
  const parts = lightParts(new Light(bytes, { headers: [["X-Two", " 2 "]] }))!;
  assert.is(parts.status, 200);
  assert.equal(parts.headers, [["x-two", "2"]]);
  assert.equal([...new Uint8Array(parts.body!)], [1, 2, 3]);
  bytes[0] = 9;
  assert.equal([...new Uint8Array(parts.body!)], [1, 2, 3], "the body must not share the function's buffer");
  assert.equal(lightParts(new Light(null, { status: 204 }))!.body, null);
  assert.is(lightParts(new Response("native")), undefined);
});

test("a string body gets the default content type unless the function set one", () => {
  assert.equal(lightParts(new Light("a"))!.headers, [["content-type", "text/plain;charset=UTF-8"]]);
  assert.equal(lightParts(new Light("a", { headers: { "content-type": "text/html" } }))!.headers, [["content-type", "text/html"]]);
  const json = Light.json({ a: 1 });
  assert.equal(lightParts(json)!.headers, [["content-type", "application/json"]]);
  assert.is(text(lightParts(json)!.body), '{"a":1}');
});

test("headers changed after the Response was made are the ones sent", () => {
  const r = new Light("x", { headers: { a: "1" } });
  r.headers.set("b", "2");
  r.headers.delete("a");
  const sent = new Map(lightParts(r)!.headers);
  assert.is(sent.get("b"), "2");
  assert.not.ok(sent.has("a"));
});

test("a bad status throws where the Response is made, as the runtime's does", () => {
  assert.throws(() => new Light("x", { status: 99 }), RangeError);
  assert.throws(() => new Light("x", { status: 204 }), TypeError);
});

test("a header the runtime would refuse is left to the runtime's Response, which reports it", () => {
  const r = new Light("x", { headers: { "bad name": "v" } });
  assert.is(lightParts(r), undefined);
  assert.throws(() => r.headers);
});

test("a stream body is the runtime's own Response, streamed as usual", async () => {
  const stream = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode("s")), c.close()) });
  const r = new Light(stream);
  assert.is(lightParts(r), undefined);
  assert.is(await r.text(), "s");
});

test("once the function reads the body itself, the guest reads the real Response", async () => {
  const r = new Light("once");
  await r.arrayBuffer();
  assert.is(lightParts(r), undefined);
});

test.run();
