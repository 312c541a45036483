/**
 * The console's live stream when its client stops reading (a laptop gone to sleep with the
 * console open, a stalled network): the host must not keep every event for it.
 */
import type { Buffer } from "node:buffer";
import { writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { DeployHost } from "../runtime/host/deploy-host.ts";
import { login } from "./helpers/console.ts";
import { inProcessDeployHost, TOKEN, versionDir } from "./helpers/deploy.ts";
import { adapter } from "./helpers/host.ts";

const test = suite<{ host: DeployHost; url: string }>(`the console's live stream on a ${adapter.name} host`);

test.before(async (ctx) => {
  const dir = versionDir("stream", "ok", (m) => {
    const functions = m.functions as Record<string, Record<string, unknown>>;
    // steady and failing only: a process-lane function would start a child (and a spare) for nothing here
    delete functions.greet;
    delete functions["greet-proc"];
    functions.steady!.route = "/steady/*";
    // its every request goes in both of its feeds: the requests' and the errors'
    functions.failing = { entry: "failing.ts", route: "/failing/*", lane: "isolate" };
  });
  writeFileSync(join(dir, "failing.ts"), `export default { fetch: () => new Response("failed", { status: 500 }) };\n`);
  ctx.host = await inProcessDeployHost({ dir });
  ctx.url = ctx.host.host.url;
});

test.after(async ({ host }) => {
  await host?.stop(2000);
});

test("a live stream whose client stops reading is cut once it holds a few MB, instead of growing the host's memory", async ({ url }) => {
  const me = await login(url, TOKEN);
  const port = Number(new URL(url).port);
  const sock: Socket = connect(port, "127.0.0.1");
  let head = "";
  await new Promise<void>((resolve, reject) => {
    sock.once("error", reject);
    sock.write(`GET /_lanes/ui/api/stream?fn=failing HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nCookie: ${me.cookie}\r\n\r\n`);
    const onData = (d: Buffer) => {
      head += d.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      sock.off("data", onData);
      sock.pause(); // the client reads no more
      resolve();
    };
    sock.on("data", onData);
  });
  assert.match(head, /^HTTP\/1\.1 200/);

  // the session's other three streams, read as they come: a fifth is refused (429) until the
  // host cuts the one that is not read, which frees its place
  const readers = await Promise.all([1, 2, 3].map(() => fetch(`${url}/_lanes/ui/api/stream?fn=steady`, { headers: { cookie: me.cookie } })));
  for (const r of readers) void r.body?.pipeTo(new WritableStream()).catch(() => {});
  const place = async () => {
    const res = await fetch(`${url}/_lanes/ui/api/stream`, { headers: { cookie: me.cookie } });
    await res.body?.cancel();
    return res.status;
  };
  assert.is(await place(), 429, "four streams open");

  // requests whose paths fill the feed's events fastest, paced to what the stream can send, until
  // the host has cut the stream nobody reads: a few MB of events, past what the sockets' buffers
  // hold. The feed keeps 1,000 characters of a path, 50 entries of each of the function's two
  // feeds per tick (runtime/console/stream.ts, BATCH, TICK_MS): 50 requests a tick fill them (5
  // loops of 10), more only cost CPU. A path of control characters (%01, decoded) takes 6 bytes a
  // character in an event's JSON ("\u0001"): a 6 KB entry, where 1,000 letters made one of 1 KB.
  const path = `/failing/${"%01".repeat(1000)}`;
  let sent = 0;
  let cut = false;
  const end = Date.now() + 90_000;
  const worker = async () => {
    while (!cut && Date.now() < end) {
      const tick = new Promise((r) => setTimeout(r, 250));
      for (let i = 0; i < 10 && !cut; i++) {
        await (await fetch(url + path)).arrayBuffer();
        sent++;
      }
      await tick;
    }
  };
  const watcher = async () => {
    while (!cut && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 250));
      cut = (await place()) === 200;
    }
  };
  await Promise.all([watcher(), ...Array.from({ length: 5 }, worker)]);
  for (const r of readers) await r.body?.cancel().catch(() => {});
  assert.ok(cut, `the stream nobody reads still holds its place after ${sent} requests`);

  // the client reads again: what it gets is bounded, and the host has ended the stream
  let got = 0;
  const ended = await new Promise<boolean>((resolve) => {
    const late = setTimeout(() => resolve(false), 8000);
    const done = () => {
      clearTimeout(late);
      resolve(true);
    };
    sock.on("data", (d: Buffer) => (got += d.byteLength));
    sock.once("end", done);
    sock.once("close", done);
    sock.once("error", done);
    sock.resume();
  });
  sock.destroy();
  assert.ok(ended, `the stream is still open after ${got} bytes`);
  assert.ok(got < 6 * 1024 * 1024, `${got} bytes were kept for a client that did not read`);

  // the session may open its streams again
  const res = await fetch(`${url}/_lanes/ui/api/stream`, { headers: { cookie: me.cookie } });
  assert.is(res.status, 200);
  await res.body?.cancel();
});

test.run();
