/**
 * The process lane: a child process of node, bun or deno, whatever the host runs on. Frames go
 * over its stdin and stdout; its stderr is its log.
 */
import { hostStreamEnd } from "../channel/stream-end.ts";
import { link, type Lane } from "./lane.ts";

export const processLane: Lane = {
  name: "process",
  spawn(spec, ctx) {
    const { sys } = ctx.adapter;
    const child = ctx.adapter.spawnChild(ctx.guests.child, {
      runtime: spec.runtime,
      heapMb: spec.memoryMb,
      env: spec.env,
      cwd: spec.dir,
      readable: [sys.cacheDir(), spec.dir],
      onOutput: (stream, line) => ctx.log.fn(spec.name, stream === "stderr" ? "error" : "log", line),
    });
    return link(child, hostStreamEnd(child.pipe, (fn) => ctx.adapter.schedule(fn)));
  },
};
