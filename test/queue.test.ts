// A function's request queue on its own: the three bounds (count, body bytes, time) and the
// grace a refused request waits. The host-level behaviour is in chaos-hostile.test.ts.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LanesError } from "../runtime/errors.ts";
import { MAX_QUEUED_BODY_BYTES, OVERFLOW_GRACE_MS, RequestQueue } from "../runtime/pool/queue.ts";

const errors = { timeout: () => new LanesError("timeout", "timed out"), overloaded: () => new LanesError("overloaded", "at capacity") };
const frame = (body: Uint8Array | null = null) => ({ requestId: "r", method: "POST", url: "http://x/", headers: [], params: {}, body });
const far = () => Date.now() + 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Take every waiting request out, so no deadline timer is left behind. */
function drain(q: RequestQueue): void {
  while (q.shift());
}

test("the queue is full at `queue` requests, and has room again once one leaves it", () => {
  const q = new RequestQueue(3, 60_000, errors);
  for (let i = 0; i < 3; i++) {
    assert.not.ok(q.full, `room for request ${i + 1}`);
    void q.push(frame(), far());
  }
  assert.ok(q.full);
  q.shift();
  assert.not.ok(q.full);
  drain(q);
});

test("requests may wait beyond `queue` for the room of instances not ready yet, and not beyond that", () => {
  let notReady = 4; // e.g. 2 instances still to start x concurrency 2
  const q = new RequestQueue(0, 60_000, errors, () => notReady);
  for (let i = 0; i < 4; i++) {
    assert.not.ok(q.full, `room for request ${i + 1}`);
    void q.push(frame(), far());
  }
  assert.ok(q.full);
  notReady = 0; // they started, and took the waiting requests
  drain(q);
  assert.ok(q.full, "a queue of 0 with every instance ready");
});

test("queued bodies count: the queue is full once they reach the byte budget, whatever the count", () => {
  const q = new RequestQueue(4096, 60_000, errors);
  const quarter = new Uint8Array(MAX_QUEUED_BODY_BYTES / 4); // one buffer, queued four times
  for (let i = 0; i < 3; i++) void q.push(frame(quarter), far());
  assert.not.ok(q.full, "three quarters of the budget");
  void q.push(frame(quarter), far());
  assert.ok(q.full, "the whole budget");
  q.shift();
  assert.not.ok(q.full, "a body left with its request");
  drain(q);
  void q.push(frame(new Uint8Array(MAX_QUEUED_BODY_BYTES)), far());
  assert.ok(q.full, "one body as large as the budget");
  drain(q);
  assert.not.ok(q.full);
});

test("the queue is full once its oldest request has waited past maxWaitMs, and not before", async () => {
  const q = new RequestQueue(4096, 80, errors);
  void q.push(frame(), far());
  assert.not.ok(q.full);
  await sleep(120);
  assert.ok(q.full, "the oldest waited 120 ms of 80");
  q.shift();
  assert.not.ok(q.full, "an empty queue has room");
  drain(q);
});

test("a request that waits past its deadline in the queue gets timeout, and its room is given back", async () => {
  const q = new RequestQueue(1, 60_000, errors);
  const waiting = q.push(frame(new Uint8Array(16)), Date.now() + 30);
  assert.ok(q.full);
  const err = await waiting.then(
    () => undefined,
    (e: LanesError) => e,
  );
  assert.is(err?.code, "timeout");
  assert.not.ok(q.full);
  assert.is(q.length, 0);
});

test("a request refused for room waits the grace first, and is let in at once when room appears", async () => {
  const q = new RequestQueue(1, 60_000, errors);
  void q.push(frame(), far());
  const hasRoom = () => !q.full;
  const t0 = Date.now();
  const refused = await q.room(hasRoom).then(
    () => "admitted",
    (e: LanesError) => e.code,
  );
  const waited = Date.now() - t0;
  assert.is(refused, "overloaded");
  assert.ok(waited >= OVERFLOW_GRACE_MS - 2 && waited < OVERFLOW_GRACE_MS + 200, `refused after ${waited} ms`);
  const hopeful = q.room(hasRoom);
  q.shift(); // room (once the pool has given the request it took an instance): the waiting request goes ahead without waiting out its grace
  q.letIn();
  const t1 = Date.now();
  await hopeful;
  assert.ok(Date.now() - t1 < OVERFLOW_GRACE_MS, "let in before its grace ended");
  drain(q);
});

test("a place freed once goes to one request let in, held for it until it arrives, not to each one waiting", async () => {
  // two instances answering in the same turn each let a request in for the one place: the second
  // was then refused after all, while a later one might get in (21 to 1,227 of a flood's let-in
  // requests, 2026-12-07)
  const q = new RequestQueue(1, 60_000, errors);
  void q.push(frame(), far());
  const hasRoom = () => !q.full;
  const order: string[] = [];
  const wait = (name: string) =>
    q.room(hasRoom).then(
      () => order.push(`${name} let in`),
      () => order.push(`${name} refused`),
    );
  const [a, b] = [wait("a"), wait("b")];
  q.shift(); // the waiting request went to an instance: one place
  q.letIn();
  q.letIn(); // (another instance's answer in the same turn)
  await sleep(0);
  assert.equal(order, ["a let in"]);
  assert.ok(q.full, "a's place is held while a reads its body");
  q.release(); // a arrives at dispatch, and takes the place
  void q.push(frame(), far());
  q.letIn();
  await Promise.all([a, b]);
  assert.equal(order, ["a let in", "b refused"], "b waited out its grace: no place came");
  q.shift();
  q.letIn();
  assert.not.ok(q.full, "the place is free again once a left");
  drain(q);
});

test.run();
