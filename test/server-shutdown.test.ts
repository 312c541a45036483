/**
 * A host's server shut down with a request still in flight when its grace ends: the shutdown
 * returns, the port is closed, the connection ends, and the process goes on to exit 0 (a Deno
 * host died there of an uncaught BadResource: adapters/deno.ts). Whether the late answer still
 * reaches the client is the runtime's: Node and Bun cut the connection at the deadline, Deno's
 * server has no way to (https://github.com/denoland/deno/issues/25792) and the process's exit
 * does. Host on Node, Bun and Deno.
 */
import { connect } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Exchange, Reply } from "../adapters/types.ts";
import { within } from "../runtime/within.ts";
import { accepts, sleep } from "./helpers/chaos.ts";
import { adapter } from "./helpers/host.ts";

const reply = (text: string): Reply => ({ status: 200, statusText: "OK", headers: [["content-type", "text/plain"]], body: new TextEncoder().encode(text) });

/**
 * A server whose handler holds its one request (GET /held, already sent on `socket`) until
 * `release`, then answers `text`; `got()` is what the connection carried.
 */
async function heldRequest(text: string) {
  let entered!: () => void;
  const inHandler = new Promise<void>((r) => (entered = r));
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const server = await adapter.serve(
    {
      fast: async (_ex: Exchange) => {
        entered();
        await held;
        return reply(text);
      },
      web: () => new Response("not here", { status: 500 }),
    },
    { port: 0, hostname: "127.0.0.1" },
  );
  const socket = connect(server.port, "127.0.0.1");
  let got = "";
  socket.on("data", (d) => (got += d.toString("latin1")));
  socket.on("error", () => {});
  const closed = new Promise<void>((r) => socket.on("close", () => r()));
  socket.write("GET /held HTTP/1.1\r\nhost: lanes.test\r\n\r\n");
  await inHandler;
  return { server, socket, closed, release, got: () => got };
}

test(`a ${adapter.name} server's shutdown returns at the end of its grace with a request still in flight, and the process goes on`, async () => {
  for (const graceMs of [0, 50]) {
    const { server, socket, closed, release, got } = await heldRequest("too late");
    const t0 = Date.now();
    await server.shutdown(graceMs);
    const tookMs = Date.now() - t0;
    release();
    await within(closed, 3000);
    assert.ok(tookMs < graceMs + 2000, `grace ${graceMs} ms: the shutdown took ${tookMs} ms`);
    assert.is(socket.destroyed || socket.readyState === "closed", true, `grace ${graceMs} ms: the held connection is still open (got ${JSON.stringify(got().slice(0, 80))})`);
    assert.is(await accepts(`http://127.0.0.1:${server.port}`), false, `grace ${graceMs} ms: the port still accepts connections`);
    socket.destroy();
  }
  // still here: the next turn of the event loop runs
  await sleep(50);
});

test(`a ${adapter.name} server's answers while it drains say Connection: close, so a client does not send its next request into a connection being closed`, async () => {
  const { server, closed, release, got } = await heldRequest("drained");
  const stopping = server.shutdown(5000);
  await sleep(50);
  release();
  await within(closed, 3000);
  await stopping;
  const head = got().slice(0, got().indexOf("\r\n\r\n")).toLowerCase();
  assert.match(head, /^http\/1\.1 200/);
  assert.match(head, /\r\nconnection: close(\r\n|$)/, `the answer's head: ${JSON.stringify(head)}`);
  assert.ok(got().endsWith("drained"), JSON.stringify(got().slice(-40)));
});

test.run();
