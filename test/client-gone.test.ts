/**
 * A client that goes away is heard of even when the host starts listening late. The host
 * watches a request's client only once the request has been in flight a while
 * (runtime/pool/client-watch.ts), so the server's Exchange must call back for a client that has
 * already left by then, on every host runtime; and the watch must pick up exactly the requests
 * still in flight.
 */
import { connect } from "node:net";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { Exchange, Reply } from "../adapters/types.ts";
import { ClientWatch } from "../runtime/pool/client-watch.ts";
import { sleep, waitFor } from "./helpers/chaos.ts";
import { adapter } from "./helpers/host.ts";

const test = suite(`a client that goes away (${adapter.name} host)`);

const reply = (text: string): Reply => ({ status: 200, statusText: "OK", headers: [["content-type", "text/plain"]], body: new TextEncoder().encode(text) });

test("onAbort asked after the client has gone still calls back", async () => {
  let entered!: () => void;
  const inHandler = new Promise<void>((r) => (entered = r));
  let ask!: () => void;
  const asked = new Promise<void>((r) => (ask = r));
  let heard = 0;
  const server = await adapter.serve(
    {
      fast: async (ex: Exchange) => {
        entered();
        await asked;
        ex.onAbort(() => heard++);
        return reply("late");
      },
      web: () => new Response("not here", { status: 500 }),
    },
    { port: 0, hostname: "127.0.0.1" },
  );
  try {
    const socket = connect(server.port, "127.0.0.1");
    socket.on("error", () => {});
    socket.write("GET /gone HTTP/1.1\r\nhost: lanes.test\r\n\r\n");
    await inHandler;
    socket.destroy();
    // long after the close reached the server
    await sleep(200);
    ask();
    await waitFor(() => heard === 1, "the listener asked for after the client left is called", 2000);
    await sleep(100);
    assert.is(heard, 1, "called once");
  } finally {
    await server.shutdown(0);
  }
});

test("onAbort is not called for a client that stays", async () => {
  let heard = 0;
  const server = await adapter.serve(
    {
      fast: async (ex: Exchange) => {
        ex.onAbort(() => heard++);
        await sleep(50);
        return reply("stayed");
      },
      web: () => new Response("not here", { status: 500 }),
    },
    { port: 0, hostname: "127.0.0.1" },
  );
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/stay`);
    assert.is(await res.text(), "stayed");
    await sleep(200);
    assert.is(heard, 0);
  } finally {
    await server.shutdown(0);
  }
});

test("the watch listens only to requests still in flight after a while, and hears each once", async () => {
  const inFlight = new Map<number, { onGone(listener: () => void): void }>();
  const watched: number[] = [];
  const gone: number[] = [];
  const leave = new Map<number, () => void>();
  const watch = new ClientWatch(
    (id) => inFlight.get(id),
    (id) => gone.push(id),
    20,
  );
  const start = (id: number) => {
    inFlight.set(id, {
      onGone(listener: () => void) {
        watched.push(id);
        leave.set(id, listener);
      },
    });
    watch.add(id);
  };
  for (const id of [1, 2, 3]) start(id);
  inFlight.delete(1); // answered at once: never watched
  await sleep(5);
  assert.equal(watched, [], "nothing is watched at once");
  await waitFor(() => watched.length === 2, "the two requests still in flight are watched", 2000);
  assert.equal(watched.sort(), [2, 3]);
  leave.get(3)!();
  assert.equal(gone, [3], "a client that leaves is named");
  // a request added later is watched on its own turn
  start(5);
  await waitFor(() => watched.length === 3, "a later request is watched too", 2000);
  assert.equal(watched, [2, 3, 5]);
  start(6);
  watch.clear();
  await sleep(80);
  assert.equal(watched, [2, 3, 5], "a cleared watch listens to nothing more");
});

test.run();
