/**
 * Answers a client reads by RFC 9112 (curl, Python's http.client), on a kept connection: a 205
 * has no content, and the client must see its end at once (a Content-Length of 0, chunked's last
 * chunk, or the connection closed): a Deno host sent it as Deno.serve does, with neither length
 * nor chunked and the connection kept, and such a client waited for the idle timeout (5.8 s).
 * Raw sockets, both lanes, host on Node, Bun and Deno (test/run.mjs).
 */
import { connect } from "node:net";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { adapter, LANES, startTestHost, type TestHost } from "./helpers/host.ts";

const test = suite<{ h: TestHost }>(`answers a strict client reads (${adapter.name} host)`);

test.before(async (ctx) => {
  ctx.h = await startTestHost(Object.fromEntries(LANES.map((lane) => [lane, { entry: "wire-answers.ts", route: `/${lane}/:case`, lane }])));
});
test.after(async ({ h }) => h?.stop());

/**
 * GET `path` on a connection left open, read as RFC 9112, 6.3 says: how the answer's end was
 * known (its length read, its last chunk, or the connection closed) or that the reader gave up
 * waiting, which it does before the host's 5 s idle timeout would close the connection.
 */
type End = "length" | "last chunk" | "closed" | "gave up";
function readStrictly(base: string, path: string, giveUpMs = 4000): Promise<{ end: End; raw: string }> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const sock = connect(Number(url.port), url.hostname);
    let raw = "";
    const done = (end: End) => {
      clearTimeout(giveUp);
      sock.destroy();
      resolve({ end, raw });
    };
    const giveUp = setTimeout(() => done("gave up"), giveUpMs);
    sock.on("data", (d: Buffer) => {
      raw += d.toString("latin1");
      const end = raw.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = raw.slice(0, end);
      const body = raw.slice(end + 4);
      if (/^content-length: *0\r?$/im.test(head)) done("length");
      else if (/^transfer-encoding: *chunked\r?$/im.test(head) && body.endsWith("0\r\n\r\n")) done("last chunk");
    });
    sock.on("error", () => {});
    sock.on("close", () => done("closed"));
    sock.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
  });
}

for (const lane of LANES) {
  test(`${lane} lane: a 205 comes with no content, and a client reading by RFC 9112 has its end at once`, async ({ h }) => {
    for (let i = 0; i < 3; i++) {
      const { end, raw } = await readStrictly(h.url, `/${lane}/reset-content`);
      assert.match(raw, /^HTTP\/1\.1 205 /, raw);
      assert.is.not(end, "gave up", `the answer had no end a strict client could see: ${JSON.stringify(raw)}`);
      const body = raw.slice(raw.indexOf("\r\n\r\n") + 4);
      assert.ok(body === "" || body === "0\r\n\r\n", `content in a 205: ${JSON.stringify(body)}`);
    }
    assert.is(await (await h.fetch(`/${lane}/ok`)).text(), "ok");
  });
}

test.run();
