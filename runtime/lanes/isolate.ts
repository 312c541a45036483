/** The isolate lane: a worker thread in the host process. */
import type { Lane } from "./lane.ts";

export const isolateLane: Lane = {
  name: "isolate",
  spawn(spec, ctx) {
    const store = ctx.sharedStore(spec);
    const seat = store.seat();
    const channel = ctx.adapter.spawnWorker(ctx.guests.worker, {
      heapMb: spec.memoryMb,
      env: spec.env,
      data: { sharedBuffer: store.buffer, sharedSeat: seat },
      onOutput: (_stream, line) => ctx.log.fn(spec.name, "log", line),
    });
    // A worker stopped inside a ctx.shared write (timeout, out of memory) never unlocks the store:
    // take the lock back as soon as it is gone, before its pool hears of it. Where terminate()
    // can leave the thread running (Deno, denoland/deno#35657) the store waits a grace first.
    channel.onExit(() => {
      if (store.recoverFrom(seat, { mayStillRun: !ctx.adapter.caps.terminateStopsSpin })) {
        ctx.log.warn(`${spec.name}: an instance stopped while holding the ctx.shared lock; the lock was taken back`);
      }
    });
    return channel;
  },
};
