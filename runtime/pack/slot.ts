/**
 * One packed function's place in a packed worker, as its instance sees it: a GuestLink of its
 * own, whose channel is the worker's channel addressed to this slot. Stopping it unloads the
 * function from the worker; failing it (a CPU loop, over its memory) recycles the whole worker.
 */
import type { GuestExit } from "../../adapters/types.ts";
import { Listeners, type HostEnd } from "../channel/end.ts";
import type { GuestToHost, HostToGuest } from "../channel/frames.ts";
import type { GuestLink } from "../lanes/lane.ts";
import type { FunctionSpec } from "../manifest/load.ts";
import type { SharedSeat } from "../shared/store.ts";

/** What a slot needs of its worker. */
export interface SlotHost {
  send(frame: HostToGuest, slot: number): void;
  flush(): void;
  drain(): void;
  /** Unload the function; resolves once the worker forgot it (or is gone). */
  unload(slot: SlotLink): Promise<void>;
  /** Stop the whole worker because of `why`, said of the function in `slot`. */
  recycle(why: string, slot: number): Promise<void>;
  /** How long the worker's thread has not answered a liveness ping, in ms (0: it answers). */
  silentMs(): number;
}

/** A thread silent this long while a function's load is unanswered is stuck in that load. */
const STUCK_LOAD_MS = 2000;

export class SlotLink implements GuestLink {
  readonly end: HostEnd;
  private readonly frames = new Listeners<GuestToHost>();
  private readonly broken = new Listeners<Error>();
  private readonly exits: ((exit: GuestExit) => void)[] = [];
  private exited: GuestExit | undefined;
  /** The worker answered an rpc of this slot: the instance's first one is its load. */
  private answered = false;
  /** It was stopped with its module still loading in a stuck thread (house.ts places its next one alone). */
  hung = false;
  /** The function's previous instance was `hung`: until this one has loaded, its worker is busy. */
  stuckBefore = false;

  constructor(
    private readonly host: SlotHost,
    readonly slot: number,
    readonly spec: FunctionSpec,
    /** Its ctx.shared store and its seat there, made when first asked for. */
    readonly store: () => { buffer: SharedArrayBuffer; seat: SharedSeat },
  ) {
    this.end = {
      send: (frame) => host.send(frame, slot),
      flush: () => host.flush(),
      drain: () => host.drain(),
      onFrame: (l) => this.frames.add(l),
      onBroken: (l) => this.broken.add(l),
      close: () => {},
    };
  }

  get gone(): boolean {
    return this.exited !== undefined;
  }

  /** Its module is loading in the worker (placed, not yet answered, not gone). */
  get loading(): boolean {
    return !this.answered && !this.exited;
  }

  /** A frame the worker sent to this slot. */
  deliver(frame: GuestToHost): void {
    if (frame.t === "rpc") this.answered = true;
    if (!this.exited) this.frames.emit(frame, this.slot);
  }

  breakWith(error: Error): void {
    this.broken.emit(error);
  }

  /** The function is no longer in the worker (unloaded, or the worker is gone). */
  finish(exit: GuestExit): void {
    if (this.exited) return;
    this.exited = exit;
    for (const l of this.exits.splice(0)) l(exit);
  }

  onExit(listener: (exit: GuestExit) => void): void {
    if (this.exited) listener(this.exited);
    else this.exits.push(listener);
  }

  kill(failure?: string): Promise<void> {
    if (this.exited) return Promise.resolve();
    // a start given up on whose module never finished loading (`for(;;){}` at its top level): an
    // unload would never be answered and the thread would spin on, starving its pack-mates, and
    // be blamed on one of them later. Recycle the worker now, naming this function. (On Deno
    // terminate() cannot stop the loop, denoland/deno#35657: the thread is leaked and spins on,
    // but the host forgets it and its other functions start elsewhere, as for any recycle.)
    const silent = this.host.silentMs();
    if (!failure && !this.answered && silent >= STUCK_LOAD_MS) {
      this.hung = true;
      failure = `never finished loading its module (its worker has not answered for ${silent} ms)`;
    }
    return failure ? this.host.recycle(`function "${this.spec.name}" ${failure}`, this.slot) : this.host.unload(this);
  }

  rss(): number | undefined {
    return undefined; // a thread in the host's process: its memory is the host's
  }

  pid(): number | undefined {
    return undefined;
  }
}
