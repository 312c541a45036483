/**
 * Packed isolates: an isolate-lane function with `"pack": true` gets a slot in a worker thread
 * it shares with other packed functions (runtime/pack/), in a context of its own, instead of a
 * worker of its own. Its bundle is CommonJS (a context runs scripts, not modules).
 */
import type { Lane } from "./lane.ts";

export const packedLane: Lane = {
  name: "isolate",
  spawn: (spec, ctx) => ctx.pack.place(spec),
};
