/**
 * A lane decides how an instance of a function is spawned and what its channel runs over;
 * everything else (pool rules, frames, limits) is shared. To add a lane: implement `LaneDriver`,
 * register it in `lanes`.
 */
import type { GuestHandle, RuntimeAdapter } from "../../adapters/types.ts";
import type { LoadSpec } from "../channel/control.ts";
import type { HostEnd } from "../channel/end.ts";
import type { Logger } from "../log.ts";
import type { FunctionSpec } from "../manifest/load.ts";
import type { Lane } from "../manifest/schema.ts";
import type { PackHouse } from "../pack/house.ts";
import type { SparePool } from "./spares.ts";
import type { SharedStore } from "../shared/store.ts";

export interface LaneContext {
  adapter: RuntimeAdapter;
  log: Logger;
  /** Compiled guest entries (.mjs). */
  guests: { worker: string; child: string; childSnapshot?: string };
  /** The host's attachment to the store behind a function's ctx.shared (its `shared` group). */
  sharedStore(spec: FunctionSpec): SharedStore;
  /** The worker threads packed functions share. */
  pack: PackHouse;
  /** Warm spares of the process lane (none: every instance starts its own child). */
  spares?: SparePool;
}

/** A running guest and the host's end of the channel to it. */
export interface GuestLink extends GuestHandle {
  end: HostEnd;
  /** A guest started before it had a function (a warm spare): make `spec` loadable there first. */
  prepareLoad?(spec: LoadSpec): Promise<LoadSpec>;
}

export interface LaneDriver {
  readonly name: Lane;
  /**
   * `bundle`: the function's compiled file (what a sandboxed child may load). `wanted`: a request
   * waits for this instance; false for `instances.min` and the start-up load check.
   */
  spawn(spec: FunctionSpec, ctx: LaneContext, bundle: string, wanted?: boolean): GuestLink;
}

/**
 * Join a guest and its channel: when the guest is gone, whatever it wrote last is read before
 * anyone hears of the exit, and the channel is closed.
 */
export function link(handle: GuestHandle, end: HostEnd): GuestLink {
  return {
    end,
    onExit: (listener) =>
      handle.onExit((exit) => {
        end.drain();
        end.close();
        listener(exit);
      }),
    kill: (failure) => handle.kill(failure),
    rss: () => handle.rss(),
    threads: () => handle.threads?.(),
    refusedTasks: () => handle.refusedTasks?.(),
    pid: () => handle.pid(),
    channelLost: () => handle.channelLost?.(),
  };
}
