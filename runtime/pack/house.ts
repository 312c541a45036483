/**
 * Where packed functions run: a few worker threads shared by every packed function of the host
 * (worker.ts), instead of a worker per function. The house starts one worker when the first
 * packed function needs an instance, and puts each new instance on the least busy worker that
 * does not hold that function yet. It starts another worker, up to `maxWorkers` (the host's
 * cores), when every worker is busy (its event loop answers a ping late) or already holds the
 * function (a function with more than one instance). A worker that holds nothing stops once it
 * has had no request for the idleMs of the last function it held (and has been empty for
 * EMPTY_GRACE_MS: the start-up load check empties it between functions). A function stays on
 * its worker until it is unloaded.
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import type { Logger } from "../log.ts";
import type { FunctionSpec } from "../manifest/load.ts";
import type { SharedSeat, SharedStore } from "../shared/store.ts";
import type { SlotLink } from "./slot.ts";
import { PackedWorker } from "./worker.ts";

/** How often each worker's liveness (lag) and idleness are looked at. */
const TICK_MS = 1000;
const EMPTY_GRACE_MS = 2000;
/** A worker whose event loop takes longer than this to answer is busy: new functions go elsewhere. */
export const BUSY_LAG_MS = 50;
/**
 * Heap each packed function may add to its worker's limit: a context and a small module take
 * 0.1-0.3 MB (../../adapters/README.md, Packed isolates), so this leaves room for the function's data.
 */
const HEAP_PER_FUNCTION_MB = 1;

export interface PackHouseOptions {
  adapter: RuntimeAdapter;
  log: Logger;
  /** The compiled packed-worker entry (runtime/guest/pack-main.ts). */
  file: string;
  maxWorkers: number;
  /** The store behind a function's ctx.shared. */
  storeFor(spec: FunctionSpec): SharedStore;
}

export interface PackedWorkerInfo {
  id: number;
  functions: string[];
  lagMs: number;
  requests: number;
}

export class PackHouse {
  readonly workers: PackedWorker[] = [];
  /** Packed functions this host may run, and their memoryMb: a new worker's heap limit. */
  private readonly known = new Map<string, number>();
  /** Each packed function's latest slot, or once it is gone its `hung` alone (not its worker). */
  private readonly latest = new Map<string, { readonly hung: boolean }>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;

  constructor(private readonly o: PackHouseOptions) {}

  /** A packed function this host serves (it sizes the workers' heap limit). */
  register(spec: FunctionSpec): void {
    this.known.set(spec.name, spec.memoryMb);
  }

  /**
   * The packed functions the host serves now (a deploy or an edit switched to them): the ones it
   * no longer serves stop sizing new workers. Each name a host ever packed kept adding its
   * memoryMb and HEAP_PER_FUNCTION_MB to every new worker's limit, so after enough deploys that
   * renamed functions the limit no longer held any packed function back.
   */
  retain(specs: readonly FunctionSpec[]): void {
    const names = new Set(specs.filter((s) => s.pack).map((s) => s.name));
    for (const name of this.known.keys()) if (!names.has(name)) this.known.delete(name);
    for (const name of this.latest.keys()) if (!names.has(name)) this.latest.delete(name);
  }

  /** A place for a new instance of `spec`: a slot in a packed worker (started if need be). */
  place(spec: FunctionSpec): SlotLink {
    if (this.stopped) throw new Error("the packed workers are stopping");
    this.register(spec);
    // the store is made (or joined) only once the function uses ctx.shared (messages.ts)
    let seat: { store: SharedStore; seat: SharedSeat } | undefined;
    const storeOf = () => {
      if (!seat) {
        const store = this.o.storeFor(spec);
        seat = { store, seat: store.seat() };
      }
      return { buffer: seat.store.buffer, seat: seat.seat };
    };
    const stuckBefore = this.latest.get(spec.name)?.hung === true;
    const link = this.choose(spec).attach(spec, storeOf);
    link.stuckBefore = stuckBefore;
    this.latest.set(spec.name, link);
    // A function unloaded or cut off inside a ctx.shared write never unlocks the store: take the
    // lock back (where terminate() can leave the thread running, after a grace: see the store).
    link.onExit(() => {
      if (this.latest.get(spec.name) === link) this.latest.set(spec.name, { hung: link.hung });
      if (seat?.store.recoverFrom(seat.seat, { mayStillRun: !this.o.adapter.caps.terminateStopsSpin })) {
        this.o.log.warn(`${spec.name}: an instance stopped while holding the ctx.shared lock; the lock was taken back`);
      }
    });
    return link;
  }

  describe(): PackedWorkerInfo[] {
    return this.workers.map((w) => ({
      id: w.id,
      functions: [...w.slots.values()].map((s) => s.spec.name),
      lagMs: w.lagMs,
      requests: w.requests,
    }));
  }

  /** Stop every worker (the pools stopped their functions first). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.workers].map((w) => w.stop()));
  }

  private choose(spec: FunctionSpec): PackedWorker {
    // its last module load got stuck (slot.ts): its retry goes to a worker holding nothing, so
    // that a second stuck load takes no pack-mate with it (one worker past maxWorkers if need be)
    if (this.latest.get(spec.name)?.hung) return this.workers.find((w) => w.alive && w.slots.size === 0 && !busy(w)) ?? this.spawn();
    const alive = this.workers.filter((w) => w.alive && !w.full);
    const holds = (w: PackedWorker) => [...w.slots.values()].some((s) => s.spec.name === spec.name && !s.gone);
    const without = alive.filter((w) => !holds(w));
    const best = (without.length > 0 ? without : alive).sort((a, b) => Number(busy(a)) - Number(busy(b)) || a.slots.size - b.slots.size)[0];
    // below the bound, a worker with a module loading is left alone: that module may never finish
    // (one that starts the same moment as a looping one would be stuck with it, even at start-up)
    if (this.workers.length < this.o.maxWorkers && (!best || busy(best) || loading(best) || without.length === 0)) return this.spawn();
    return best ?? this.spawn(); // at the bound: share the least busy one
  }

  private spawn(): PackedWorker {
    const heapMb = Math.max(...this.known.values()) + HEAP_PER_FUNCTION_MB * this.known.size;
    const worker = new PackedWorker({
      adapter: this.o.adapter,
      log: this.o.log,
      file: this.o.file,
      heapMb,
      onGone: (w) => {
        const at = this.workers.indexOf(w);
        if (at >= 0) this.workers.splice(at, 1);
      },
    });
    this.workers.push(worker);
    this.timer ??= setInterval(() => this.tick(), TICK_MS);
    (this.timer as { unref?: () => void }).unref?.();
    return worker;
  }

  private tick(): void {
    const now = Date.now();
    for (const w of [...this.workers]) {
      if (w.slots.size > 0) w.measure(now);
      else if (w.alive && now - w.emptySince >= EMPTY_GRACE_MS && now - w.lastRequestAt >= w.idleMs) void w.stop();
    }
    if (this.workers.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

/**
 * Busy: its last ping came back late, or the one out now is late, or its thread is running a
 * module's top level (a load sent to a started worker, not answered yet), or it is to load a
 * function whose last load got stuck. Pings go out once a TICK_MS, so a thread stuck in a
 * module's top level (`for(;;){}`) looked idle for up to a second, and functions placed then
 * were stuck beside it. A worker still starting is not busy otherwise: its loads have not begun.
 */
function busy(w: PackedWorker): boolean {
  if (w.lagMs > BUSY_LAG_MS || w.silentMs() > BUSY_LAG_MS) return true;
  for (const s of w.slots.values()) if (s.loading && (w.started || s.stuckBefore)) return true;
  return false;
}

function loading(w: PackedWorker): boolean {
  for (const s of w.slots.values()) if (s.loading) return true;
  return false;
}
