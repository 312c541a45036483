/**
 * An isolate-lane worker that said it is ready before the host had made its end of the channel.
 * On a loaded machine Deno's `new Worker` can return after the worker has already run its code
 * (12 of 100 bare workers had, with two CPU hogs beside them): the guest's `ready` frame then
 * sat in the ring before the host read from it. It was read as the host's end was made, before
 * the instance listened or was started, and the start hung to its 5 s limit ("did not boot"):
 * about twice a full test run. Here that order is made on purpose, with a real worker running
 * the real guest, on Node, Bun and Deno hosts.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { hostRingEnd, ringChannelMemory } from "../runtime/channel/ring-end.ts";
import { RING_HEADER_BYTES } from "../runtime/channel/ring.ts";
import { compileGuests } from "../runtime/host/host.ts";
import type { IsolateGuestData } from "../runtime/lanes/isolate.ts";
import { link } from "../runtime/lanes/lane.ts";
import { compileFunction, loadSpec, withBundle } from "../runtime/lanes/loadable.ts";
import { loadManifest } from "../runtime/manifest/load.ts";
import { Instance } from "../runtime/pool/instance.ts";
import { SharedStore } from "../runtime/shared/store.ts";
import { adapter, makeFunctionsDir } from "./helpers/host.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test(`a worker whose ready frame was written before the ${adapter.name} host made its end of the channel starts and answers`, async () => {
  const dir = makeFunctionsDir({ echo: { entry: "echo.ts", lane: "isolate" } });
  const [spec] = (await loadManifest(dir, adapter.sys, adapter.name)).functions;
  const guests = await compileGuests(adapter);
  const bundle = await compileFunction(spec!, adapter.sys);
  const store = SharedStore.create({ slots: 16, bytes: 4096 });
  const channel = ringChannelMemory();
  const data: IsolateGuestData = {
    channel,
    wakeBy: adapter.caps.ringWakeup,
    reads: adapter.caps.ringReads,
    sharedBuffer: store.buffer,
    sharedSeat: store.seat(),
  };
  const worker = adapter.spawnWorker(guests.worker, { heapMb: spec!.memoryMb, env: {}, data, onOutput: () => {} });
  try {
    // the guest's ring (the second one) holds its `ready` before the host's end exists
    const guestWrote = new Int32Array(channel, channel.byteLength / 2, RING_HEADER_BYTES / 4);
    const end = Date.now() + 20_000;
    while (Atomics.load(guestWrote, 0) === 0) {
      if (Date.now() > end) throw new Error("the worker never wrote its ready frame");
      await sleep(5);
    }
    await sleep(50); // and its wake-up, finding no one asleep, is long past
    const hostEnd = hostRingEnd({ sab: channel, port: worker.port, wakeBy: data.wakeBy, reads: data.reads, wake: (fn) => adapter.schedule(fn) });
    const inst = new Instance(link(worker, hostEnd), {
      log: () => {},
      dropped: () => {},
      shared: () => null,
      gone: () => {},
      released: () => {},
    });
    // it hung here, to "instance did not boot within 5000 ms"
    await inst.start(withBundle(loadSpec(spec!, {}, false), spec!, bundle, adapter.sys), 15_000);
    const reply = await inst.request({ requestId: "r1", method: "GET", url: "http://127.0.0.1/echo", headers: [], params: {}, body: null }, Date.now() + 10_000);
    assert.is(reply.status, 200);
    await inst.stop();
  } finally {
    await worker.kill();
  }
});

test.run();
