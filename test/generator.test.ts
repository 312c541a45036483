/**
 * The load generator (loadtest/harness/generator.ts) on this runtime: autocannon as the bench and
 * `lanes load` run it, against a real server answering 64 KiB bodies. It must count every answer
 * and its bytes, and keep none of the bodies: decoding them into strings was two thirds of its
 * CPU under 256 KiB answers, which made it, not the server, the limit of the bench's cells.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import autocannon from "../loadtest/harness/generator.ts";

const ANSWER = 64 * 1024;

test("autocannon counts every answer and its bytes, and keeps none of the bodies", async () => {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.end(Buffer.alloc(ANSWER, "x")));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const kept: string[] = [];
  let answers = 0;
  let bytes = 0;
  try {
    const run = autocannon({
      url: `http://127.0.0.1:${port}/`,
      connections: 4,
      duration: 0.5,
      sampleInt: 100,
      verifyBody: (body) => kept.push(body) > 0,
    });
    run.on("response", (_client, status, n) => {
      if (status === 200) answers++;
      bytes += n;
    });
    const r = await run;
    assert.ok(answers > 10, `${answers} answers`);
    assert.is(r.non2xx + r.errors, 0);
    assert.ok(bytes >= answers * ANSWER, `${bytes} bytes counted for ${answers} answers of ${ANSWER}`);
    assert.is(kept.length, answers, "each answer came to verifyBody");
    const longest = Math.max(...kept.map((b) => b.length));
    assert.is(longest, 0, "no answer's body was kept");
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test.run();
