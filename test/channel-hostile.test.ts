/**
 * A hostile process-lane child against its channel to the host: frames it writes itself, beside
 * the guest's (test/fixtures/fns/hostile-channel.ts). It may spoil its own requests, never make
 * the host hold memory without bound or stop serving others. Host on Node, Bun and Deno.
 */
import { connect } from "node:net";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { expectError, expectJson, measure, poolOf, waitFor } from "./helpers/chaos.ts";
import { adapter, startTestHost, type TestHost } from "./helpers/host.ts";

const MB = 1024 * 1024;
const test = suite<{ h: TestHost }>(`hostile child on its channel (${adapter.name} host)`);

test.before(async (ctx) => {
  ctx.h = await startTestHost({
    hostile: { entry: "hostile-channel.ts", lane: "process", instances: { min: 1, max: 1 } },
    bystander: { entry: "chaos-fault.ts", lane: "process" },
  });
});
test.after(async ({ h }) => h.stop());

/** The host's largest RSS while `work` runs, read every 10 ms. */
async function peakRss<T>(work: Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = adapter.hostRss();
  let done = false;
  const watch = (async () => {
    while (!done) {
      peak = Math.max(peak, adapter.hostRss());
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const result = await work.finally(() => (done = true));
  await watch;
  return { result, peak: Math.max(peak, adapter.hostRss()) };
}

test("a child that floods ctx.shared calls and reads none of the answers is stopped; the host holds no more than a few MB for it", async ({ h }) => {
  const first = poolOf(h, "hostile").instances[0]!;
  const before = adapter.hostRss();
  // 6000 asks for a 200 KB value: 1.2 GB of answers, from 140 KB the child wrote
  const { result: res, peak } = await peakRss(h.fetch("/hostile?do=shared-flood&n=6000"));
  const grew = peak - before;
  measure("host RSS while a child asked ctx.shared 6000 times for 200 KB and read nothing", `+${(grew / MB).toFixed(1)} MB at its peak`);
  const err = await expectError(res, 502, "instance_crashed");
  assert.match(err.message, /stopped reading its channel: 4096 ctx\.shared calls waited behind \d+ MB it had not read/);
  assert.ok(grew < 150 * MB, `the host's RSS grew ${(grew / MB).toFixed(0)} MB`);
  await waitFor(() => poolOf(h, "hostile").instances[0] !== first, "the instance is replaced", 10_000);
  await expectJson(h.fetch("/bystander"));
  assert.is(await (await h.fetch("/hostile")).text(), "ok", "the function serves again");
});

test("a child that streams past its window to a client that reads nothing is stopped; the host holds no more than the window for it", async ({ h }) => {
  const instance = poolOf(h, "hostile").instances[0]!;
  const id = instance.dispatched + 1; // its request's id on the channel (runtime/pool/inflight.ts)
  const before = adapter.hostRss();
  // 1 GiB of chunks, against the window of 2 MiB that the host has not acknowledged
  const { port } = new URL(h.url);
  const socket = connect(Number(port), "127.0.0.1");
  socket.on("error", () => {});
  socket.write(`GET /hostile?do=chunk-flood&id=${id}&mb=1024 HTTP/1.1\r\nHost: x\r\n\r\n`);
  socket.pause(); // a client that reads nothing
  const { peak } = await peakRss(waitFor(() => poolOf(h, "hostile").instances[0] !== instance, "the instance is replaced", 20_000).finally(() => socket.destroy()));
  const grew = peak - before;
  measure("host RSS while a child streamed 1 GiB past its window to a client that read nothing", `+${(grew / MB).toFixed(1)} MB at its peak`);
  assert.ok(grew < 150 * MB, `the host's RSS grew ${(grew / MB).toFixed(0)} MB`);
  assert.ok(
    h.logs.some((l) => l.includes("sent a streamed answer past its window")),
    h.logs.filter((l) => l.includes("hostile")).join("\n"),
  );
  assert.is(await (await h.fetch("/hostile")).text(), "ok", "the function serves again");
});

test("a child that sends a 150 MiB control answer is stopped as its first bytes arrive; the host keeps none of it and serves the others", async ({ h }) => {
  const instance = poolOf(h, "hostile").instances[0]!;
  const logged = h.logs.length;
  const before = adapter.hostRss();
  // JSON "[1,1,1, …]", under the frame limit of any child (a bun child of memoryMb 128 may send 176 MB): a Node host parsed 200 MiB of it on its thread for seconds
  assert.is(await (await h.fetch("/hostile?do=big-frame&mb=150")).text(), "ok");
  const { peak } = await peakRss(waitFor(() => poolOf(h, "hostile").instances[0] !== instance, "the instance is replaced", 20_000));
  const grew = peak - before;
  measure("host RSS while a child sent a 150 MiB control answer", `+${(grew / MB).toFixed(1)} MB at its peak`);
  assert.ok(grew < 100 * MB, `the host's RSS grew ${(grew / MB).toFixed(0)} MB`);
  assert.ok(
    h.logs.some((l) => /a \d+-byte frame of kind 12, over the 4194304 its sender may send/.test(l)),
    h.logs.slice(logged).join("\n"),
  );
  await expectJson(h.fetch("/bystander"));
  assert.is(await (await h.fetch("/hostile")).text(), "ok", "the function serves again");
});

test("a function that makes many ctx.shared calls at once gets every answer, though they are more than the host sends before it reads", async ({ h }) => {
  // 200 answers of 200 KB: 40 MB, past the 16 MB after which calls wait for the child to read
  assert.equal(await expectJson(h.fetch("/hostile?do=many&n=200")), { answers: 200 });
});

test.run();
