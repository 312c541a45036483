/** The process lane: a child process of node, bun or deno, whatever the host runs on. */
import type { Lane } from "./lane.ts";

export const processLane: Lane = {
  name: "process",
  spawn(spec, ctx) {
    const { sys } = ctx.adapter;
    return ctx.adapter.spawnChild(ctx.guests.child, {
      runtime: spec.runtime,
      heapMb: spec.memoryMb,
      env: spec.env,
      cwd: spec.dir,
      readable: [sys.cacheDir(), spec.dir],
      onOutput: (stream, line) => ctx.log.fn(spec.name, stream === "stderr" ? "error" : "log", line),
    });
  },
};
