/** The isolate lane: a worker thread in the host process. */
import type { Lane } from "./lane.ts";

export const isolateLane: Lane = {
  name: "isolate",
  spawn(spec, ctx) {
    return ctx.adapter.spawnWorker(ctx.guests.worker, {
      heapMb: spec.memoryMb,
      env: spec.env,
      data: { sharedBuffer: ctx.sharedBuffer(spec) },
      onOutput: (_stream, line) => ctx.log.fn(spec.name, "log", line),
    });
  },
};
