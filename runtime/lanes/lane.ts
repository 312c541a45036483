/**
 * A lane decides how an instance of a function is spawned; everything else (pool rules,
 * protocol, limits) is shared. To add a lane: implement `Lane`, register it in `lanes`.
 */
import type { GuestChannel, RuntimeAdapter } from "../../adapters/types.ts";
import type { Logger } from "../log.ts";
import type { FunctionSpec } from "../manifest/load.ts";
import type { SharedStore } from "../shared/store.ts";

export interface LaneContext {
  adapter: RuntimeAdapter;
  log: Logger;
  /** Compiled guest entries (.mjs). */
  guests: { worker: string; child: string };
  /** The host's attachment to the store behind a function's ctx.shared (its `shared` group). */
  sharedStore(spec: FunctionSpec): SharedStore;
}

export interface Lane {
  readonly name: "isolate" | "process";
  /** `bundle`: the function's compiled file (what a sandboxed child may load). */
  spawn(spec: FunctionSpec, ctx: LaneContext, bundle: string): GuestChannel;
}
