/**
 * The process lane's two ends (runtime/channel/stream-end.ts) over a real /dev/shm body file and
 * an in-memory pipe this test delivers: a body that finds its ring full waits for the other side
 * to read instead of taking the pipe, and the frames sent after it wait behind it, in order; a
 * side that never says how far it has read gets its bodies through the pipe after ROOM_WAIT_MS.
 */
import { closeSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assertSameBytes, patterned } from "./helpers/bytes.ts";
import { bodyFileForTest } from "./helpers/body-file.ts";
import { RING_BYTES, type FileIo } from "../runtime/channel/body-file.ts";
import type { HostToGuest } from "../runtime/channel/frames.ts";
import { guestStreamEnd, hostStreamEnd, ROOM_WAIT_MS } from "../runtime/channel/stream-end.ts";

const BODY = 300_000;
const soon = (f: () => void) => void setTimeout(f, 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A host end and a guest end sharing a body file; what the host writes reaches the guest only while `flowing`. */
function lane(guestIo: (io: FileIo) => FileIo = (io) => io) {
  const { file, childFd, childIo } = bodyFileForTest();
  let toGuest: (c: Uint8Array) => void = () => {};
  let toHost: (c: Uint8Array) => void = () => {};
  const held: Uint8Array[] = [];
  const state = { flowing: false, pipeBytes: 0 };
  const deliver = () => {
    for (const c of held.splice(0)) toGuest(c);
  };
  const host = hostStreamEnd(
    {
      write: (b, written) => {
        state.pipeBytes += b.byteLength;
        held.push(b.slice());
        written?.();
        if (state.flowing) soon(deliver);
      },
      onData: (l) => void (toHost = l),
      file: file.io,
    },
    soon,
  );
  const guest = guestStreamEnd(
    {
      write: (b, written) => {
        const c = b.slice();
        written?.();
        soon(() => toHost(c));
      },
      onData: (l) => void (toGuest = l),
      file: guestIo(childIo),
    },
    soon,
  );
  const got: HostToGuest[] = [];
  guest.onFrame((f) => {
    got.push(f.t === "req" ? { ...f, body: f.body?.slice() ?? null } : f);
    // each request is answered, so the host hears from the guest as it reads
    if (f.t === "req") guest.send({ t: "res", id: f.id, status: 200, statusText: "", headers: [], body: null, more: false });
  });
  const broken: Error[] = [];
  host.onBroken((e) => broken.push(e));
  guest.onBroken((e) => broken.push(e));
  return {
    host,
    got,
    broken,
    state,
    flow() {
      state.flowing = true;
      soon(deliver);
    },
    close() {
      host.close();
      guest.close();
      file.close();
      closeSync(childFd);
    },
  };
}

const request = (id: number, body: Uint8Array): HostToGuest => ({ t: "req", id, requestId: `r${id}`, method: "POST", url: "http://lanes.test/", headers: [], params: {}, body });

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await sleep(5)) if (Date.now() > end) assert.unreachable(`timed out waiting for ${what}`);
}

test("bodies that find the ring full wait for the guest to read, and the frames after them wait behind them", async () => {
  const l = lane();
  try {
    const bodies = Array.from({ length: 20 }, (_, i) => patterned(BODY, i));
    bodies.forEach((body, i) => {
      l.host.send(request(i + 1, body));
      if (i + 1 === 15) l.host.send({ t: "cancel", id: 15 });
    });
    await sleep(30);
    const fits = Math.floor(RING_BYTES / BODY);
    assert.ok(l.state.pipeBytes < 64 * 1024, `only frames and references in the pipe so far (${l.state.pipeBytes} bytes)`);
    l.flow();
    await until("every request at the guest", () => l.got.length === 21);
    assert.equal(l.broken, []);
    const order = l.got.map((f) => `${f.t} ${"id" in f ? f.id : ""}`);
    const want = [...bodies.map((_, i) => `req ${i + 1}`)];
    want.splice(15, 0, "cancel 15");
    assert.equal(order, want, "in the order they were sent");
    for (const f of l.got) if (f.t === "req") assertSameBytes(f.body!, bodies[f.id - 1]!, `body ${f.id}`);
    assert.ok(l.state.pipeBytes < 64 * 1024, `no body took the pipe (${l.state.pipeBytes} bytes in it; ${fits} bodies fill the ring)`);
  } finally {
    l.close();
  }
});

test("a guest that never says how far it has read gets the bodies that wait through the pipe after ROOM_WAIT_MS", async () => {
  // its read position in the file's header is never written: the ring looks full for good
  const l = lane((io) => ({ read: io.read, write: (bytes, at) => (at === 8 ? bytes.byteLength : io.write(bytes, at)) }));
  try {
    l.flow();
    const started = Date.now();
    const bodies = Array.from({ length: 10 }, (_, i) => patterned(BODY, 50 + i));
    for (const [i, body] of bodies.entries()) l.host.send(request(i + 1, body));
    await until("every request at the guest", () => l.got.length === 10);
    assert.equal(l.broken, []);
    assert.equal(
      l.got.map((f) => ("id" in f ? f.id : 0)),
      bodies.map((_, i) => i + 1),
      "in order",
    );
    for (const f of l.got) if (f.t === "req") assertSameBytes(f.body!, bodies[f.id - 1]!, `body ${f.id}`);
    const piped = 10 - Math.floor(RING_BYTES / BODY);
    assert.ok(l.state.pipeBytes >= piped * BODY, `${piped} bodies took the pipe (${l.state.pipeBytes} bytes in it)`);
    assert.ok(Date.now() - started >= ROOM_WAIT_MS, "after waiting for room first");
  } finally {
    l.close();
  }
});

test.run();
