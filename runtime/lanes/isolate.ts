/** The isolate lane: a worker thread in the host process, its channel two rings in shared memory. */
import { hostRingEnd, ringChannelMemory, type RingReads, type WakeBy } from "../channel/ring-end.ts";
import type { SharedSeat } from "../shared/store.ts";
import { link, type LaneDriver } from "./lane.ts";

/** What an isolate-lane guest finds in its workerData. */
export interface IsolateGuestData {
  channel: SharedArrayBuffer;
  /** How the rings wake a sleeping side: both ends must agree. */
  wakeBy: WakeBy;
  reads: RingReads;
  sharedBuffer: SharedArrayBuffer;
  sharedSeat: SharedSeat;
}

export const isolateLane: LaneDriver = {
  name: "isolate",
  spawn(spec, ctx) {
    const store = ctx.sharedStore(spec);
    const seat = store.seat();
    const channel = ringChannelMemory();
    const wakeBy = ctx.adapter.caps.ringWakeup;
    const reads = ctx.adapter.caps.ringReads;
    const data: IsolateGuestData = { channel, wakeBy, reads, sharedBuffer: store.buffer, sharedSeat: seat };
    const worker = ctx.adapter.spawnWorker(ctx.guests.worker, {
      heapMb: spec.memoryMb,
      env: spec.env,
      data,
      onOutput: (_stream, line) => ctx.log.fn(spec.name, "log", line),
    });
    // A worker stopped inside a ctx.shared write (timeout, out of memory) never unlocks the store:
    // take the lock back as soon as it is gone, before its pool hears of it. Where terminate()
    // can leave the thread running (Deno) the store waits a grace first.
    worker.onExit(() => {
      if (store.recoverFrom(seat, { mayStillRun: !ctx.adapter.caps.terminateStopsSpin })) {
        ctx.log.warn(`${spec.name}: an instance stopped while holding the ctx.shared lock; the lock was taken back`);
      }
    });
    return link(worker, hostRingEnd({ sab: channel, port: worker.port, wakeBy, reads, wake: (fn) => ctx.adapter.schedule(fn) }));
  },
};
