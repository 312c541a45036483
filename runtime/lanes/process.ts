/** The process lane: a child process of node, bun or deno, whatever the host runs on. */
import { sandboxed } from "../isolation.ts";
import type { Lane } from "./lane.ts";

export const processLane: Lane = {
  name: "process",
  spawn(spec, ctx, bundle) {
    return ctx.adapter.spawnChild(ctx.guests.child, {
      runtime: spec.runtime,
      heapMb: spec.memoryMb,
      env: spec.env,
      cwd: spec.dir,
      files: [bundle],
      grants: spec.permissions,
      sandbox: sandboxed(spec, ctx.adapter),
      onOutput: (stream, line) => ctx.log.fn(spec.name, stream === "stderr" ? "error" : "log", line),
    });
  },
};
