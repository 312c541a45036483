/**
 * The console's live stream when its client stops reading (a laptop gone to sleep with the
 * console open, a stalled network): the host must not keep every event for it.
 */
import type { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { DeployHost } from "../runtime/host/deploy-host.ts";
import { login } from "./helpers/console.ts";
import { inProcessDeployHost, TOKEN, versionDir } from "./helpers/deploy.ts";
import { adapter } from "./helpers/host.ts";

const test = suite<{ host: DeployHost; url: string }>(`the console's live stream on a ${adapter.name} host`);

test.before(async (ctx) => {
  const dir = versionDir("stream", "ok", (m) => {
    (m.functions as Record<string, Record<string, unknown>>).steady!.route = "/steady/*";
  });
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
    sock.write(`GET /_lanes/ui/api/stream?fn=steady HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nCookie: ${me.cookie}\r\n\r\n`);
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

  // requests with long paths, each of which the stream would send in full: over 10 MB of events
  const path = `/steady/${"x".repeat(15_000)}`;
  let sent = 0;
  const end = Date.now() + 4000;
  const worker = async () => {
    while (Date.now() < end || sent < 800) {
      await (await fetch(url + path)).arrayBuffer();
      sent++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));

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
  assert.ok(sent >= 800, `${sent} requests`);
  assert.ok(ended, `the stream is still open after ${got} bytes`);
  assert.ok(got < 6 * 1024 * 1024, `${got} bytes were kept for a client that did not read`);

  // the session may open its streams again
  const res = await fetch(`${url}/_lanes/ui/api/stream`, { headers: { cookie: me.cookie } });
  assert.is(res.status, 200);
  await res.body?.cancel();
});

test.run();
