/**
 * A request body with a Content-Length is read straight into the host's pooled array where the
 * server's body is a byte stream (Deno.serve's is): a BYOB reader fills the array in place,
 * moving its memory at every read, instead of reading each piece into a fresh 64 KiB array and
 * copying it over (adapters/web-exchange.ts, runtime/host/body.ts). Here the body is a real
 * platform byte stream that hands out its bytes in pieces as a socket would, read through the
 * host's own WebExchange and readBody: the bytes must arrive intact whatever the pieces, a body
 * that ends early or stops arriving must end as before, and the memory must go back to the pool.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assertSameBytes, patterned } from "./helpers/bytes.ts";
import { WebExchange } from "../adapters/web-exchange.ts";
import { BodyReads, readBody } from "../runtime/host/body.ts";
import { hostBuffers } from "../runtime/channel/buffer-pool.ts";
import { LanesError } from "../runtime/errors.ts";

interface Source {
  stream: ReadableStream<Uint8Array>;
  /** Reads that came with an array of the reader's to fill. */
  intoReads: number;
  cancelled: boolean;
}

/** A byte stream giving `bytes` in pieces of `sizes` (the last repeated), a turn of the event loop apart; `stopAt`: it gives nothing more from there. */
function socketLike(bytes: Uint8Array, sizes: number[], o: { stopAt?: number; closeAt?: number } = {}): Source {
  let at = 0;
  let piece = 0;
  const end = o.closeAt ?? bytes.byteLength;
  const source: Source = { stream: undefined as unknown as ReadableStream<Uint8Array>, intoReads: 0, cancelled: false };
  source.stream = new ReadableStream({
    type: "bytes",
    async pull(controller) {
      if (at === o.stopAt) return new Promise<void>(() => {});
      await new Promise((r) => setTimeout(r, 0));
      if (at >= end) {
        controller.close();
        controller.byobRequest?.respond(0);
        return;
      }
      const n = Math.min(sizes[Math.min(piece++, sizes.length - 1)]!, end - at);
      const into = controller.byobRequest?.view as Uint8Array | null | undefined;
      if (into) {
        source.intoReads++;
        const k = Math.min(n, into.byteLength);
        into.set(bytes.subarray(at, at + k));
        at += k;
        controller.byobRequest!.respond(k);
      } else {
        controller.enqueue(bytes.slice(at, at + n));
        at += n;
      }
    },
    cancel() {
      source.cancelled = true;
    },
  });
  return source;
}

/** A request as Deno.serve gives one, its body `body`. */
function exchangeOf(body: ReadableStream<Uint8Array>, length: number): WebExchange {
  const headers = new Headers({ "content-length": String(length) });
  const request = { method: "POST", url: "http://127.0.0.1/f", headers, body, bodyUsed: false, signal: new AbortController().signal };
  return new WebExchange(request as unknown as Request, () => "127.0.0.1");
}

const deadline = () => Date.now() + 5_000;

test("a body is read straight into the pool's array, intact whatever the pieces, and its memory goes back to the pool", async () => {
  for (const sizes of [[70_000, 1, 131_072, 3, 100_000], [300_000], [65_536]]) {
    const sent = patterned(300_000, sizes.length, 7);
    const source = socketLike(sent, sizes);
    const got = await readBody(exchangeOf(source.stream, sent.byteLength), 1 << 20, "f", deadline());
    assert.ok(got, "a body");
    assertSameBytes(got, sent, `pieces of ${sizes.join(", ")}`);
    assert.ok(source.intoReads >= 1, "the stream filled the host's array (a BYOB read)");
    const before = hostBuffers.idleBytes;
    hostBuffers.give(got);
    assert.is(hostBuffers.idleBytes - before, 5 * 65_536, "the array's memory is the pool's again once given back");
    const again = hostBuffers.take(300_000);
    assert.is(again.buffer, got.buffer, "and is handed out again");
    hostBuffers.give(again);
  }
});

test("a body that ends before its Content-Length comes back as far as it came", async () => {
  const sent = patterned(300_000, 3);
  const source = socketLike(sent, [40_000], { closeAt: 100_000 });
  const got = await readBody(exchangeOf(source.stream, sent.byteLength), 1 << 20, "f", deadline());
  assert.ok(got);
  assertSameBytes(got, sent.subarray(0, 100_000), "the first 100,000 bytes");
});

test("a body that stops arriving is refused at the deadline, and its stream cancelled once answered", async () => {
  const sent = patterned(300_000, 5);
  const source = socketLike(sent, [50_000], { stopAt: 100_000 });
  const ex = exchangeOf(source.stream, sent.byteLength);
  const t0 = Date.now();
  const err = await readBody(ex, 1 << 20, "f", Date.now() + 200).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(err, LanesError);
  assert.is((err as LanesError).code, "request_timeout");
  assert.ok(Date.now() - t0 < 2_000, "refused at its deadline");
  ex.afterResponse();
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(source.cancelled, "the rest of the upload is not read");
  assert.ok(ex.abandoned, "the connection is not reused");
});

test("reads sharing one deadline timer: a body that stops arriving is refused at its deadline, one beside it that arrives is read whole", async () => {
  const reads = new BodyReads();
  const sent = patterned(300_000, 6);
  const stuck = socketLike(sent, [50_000], { stopAt: 100_000 });
  const t0 = Date.now();
  const [err, got] = await Promise.all([
    readBody(exchangeOf(stuck.stream, sent.byteLength), 1 << 20, "f", Date.now() + 200, reads).then(
      () => undefined,
      (e: unknown) => e,
    ),
    readBody(exchangeOf(socketLike(sent, [70_000]).stream, sent.byteLength), 1 << 20, "f", Date.now() + 200, reads),
  ]);
  assert.instance(err, LanesError);
  assert.is((err as LanesError).code, "request_timeout");
  const took = Date.now() - t0;
  assert.ok(took >= 190 && took < 2_000, `refused at its deadline (${took} ms)`);
  assertSameBytes(got!, sent);
  // a read that ended before its deadline is not refused afterwards
  const after = await readBody(exchangeOf(socketLike(sent, [100_000]).stream, sent.byteLength), 1 << 20, "f", Date.now() + 50, reads);
  await new Promise((r) => setTimeout(r, 80));
  assertSameBytes(after!, sent);
});

test("a body whose stream is not a byte stream is read as before", async () => {
  const sent = patterned(200_000, 9);
  let at = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= sent.byteLength) return controller.close();
      controller.enqueue(sent.slice(at, at + 30_000));
      at += 30_000;
    },
  });
  const got = await readBody(exchangeOf(stream, sent.byteLength), 1 << 20, "f", deadline());
  assert.ok(got);
  assertSameBytes(got, sent);
});

test.run();
