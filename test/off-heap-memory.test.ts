/**
 * Memory an isolate-lane function holds that its runtime leaves out of a worker's figures
 * (adapters/off-heap.ts), host on Node, Bun and Deno: past memoryMb it stops the instance as
 * ArrayBuffers do (test/memory-watchdog.test.ts), and made and dropped it does not.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { expectError, expectJson, waitFor } from "./helpers/chaos.ts";
import { adapter, startTestHost, type TestHost } from "./helpers/host.ts";

const test = suite<{ h: TestHost }>(`off-heap memory in the isolate lane (${adapter.name} host)`);
const KINDS = ["sab", "wasm", "resizable", "blob"] as const;

test.before(async (ctx) => {
  const functions: Record<string, Record<string, unknown>> = {};
  for (const kind of KINDS) functions[kind] = { entry: "off-heap.ts", lane: "isolate", memoryMb: 64, instances: { min: 0, max: 1 } };
  ctx.h = await startTestHost(functions);
});
test.after(async ({ h }) => h.stop());

for (const kind of KINDS) {
  test(`a function that holds 160 MB of ${kind} with memoryMb 64 is stopped, and the next request is served`, async ({ h }) => {
    // Node left SharedArrayBuffers, a resizable buffer's growth and Blobs out of a worker's
    // figures, Deno SharedArrayBuffers, WebAssembly memory and Blobs: the function answered 200
    // holding all 160 MB, in the host's memory
    const err = await expectError(await h.fetch(`/${kind}?kind=${kind}&mb=160&ms=2000`), 502, "instance_crashed");
    assert.match(err.message, /ran out of memory: it held \d+ MB of heap and ArrayBuffers, over its memoryMb of 64/);
    await waitFor(async () => (await h.fetch(`/${kind}`)).status === 200, "the function serves again", 10_000);
  });
}

test("SharedArrayBuffers made and dropped past memoryMb do not stop it: they are noted, not kept", async ({ h }) => {
  const { instance } = await expectJson(h.fetch("/sab"));
  // 16 MB every 50 ms, 256 MB in all: the watchdog's readings count those not yet collected
  assert.equal(await expectJson(h.fetch("/sab?kind=sab&garbage&mb=256")), { instance, held: false });
  assert.is((await expectJson(h.fetch("/sab"))).instance, instance, "the same instance serves on");
});

test.run();
