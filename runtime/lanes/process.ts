/**
 * The process lane: a child process of node, bun or deno, whatever the host runs on, in the OS
 * sandbox where there is one. Frames go over its stdin and stdout; its stderr is its log.
 * Where a warm spare can serve the function, the instance is that spare (spares.ts).
 */
import { hostStreamEnd } from "../channel/stream-end.ts";
import { childFrameLimit } from "../pool/watchdog.ts";
import { inspectorBanner, inspectorLine } from "./inspector-output.ts";
import { sandboxed } from "../isolation.ts";
import { link, type LaneDriver } from "./lane.ts";

export const processLane: LaneDriver = {
  name: "process",
  spawn(spec, ctx, bundle, wanted) {
    // a warm spare of the same runtime and sandbox, when there is one ready (spares.ts)
    const spare = ctx.spares?.take(spec, wanted);
    if (spare) return spare;
    const child = ctx.adapter.spawnChild(ctx.guests.child, {
      runtime: spec.runtime,
      heapMb: spec.memoryMb,
      env: spec.env,
      cwd: spec.dir,
      files: [bundle],
      grants: spec.permissions,
      sandbox: sandboxed(spec, ctx.adapter),
      ...(spec.inspect ? { inspect: true } : {}),
      ...(ctx.guests.childSnapshot ? { snapshotEntry: ctx.guests.childSnapshot } : {}),
      onOutput: (stream, line) => {
        if (spec.inspect && stream === "stderr") {
          const seen = inspectorLine(line);
          for (const l of seen.url ? inspectorBanner(spec.name, spec.runtime, seen.url) : []) ctx.log.info(l);
          if (seen.banner) return;
        }
        ctx.log.fn(spec.name, stream === "stderr" ? "error" : "log", line);
      },
    });
    return link(
      child,
      hostStreamEnd(child.pipe, (fn) => ctx.adapter.schedule(fn), childFrameLimit(spec)),
    );
  },
};
