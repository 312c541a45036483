/**
 * One packed worker: a worker thread holding several isolate-lane functions, one per slot of its
 * channel (slot 0 is the worker's own: control calls, liveness, its own log). When the thread
 * ends, every function in it ends with it: the one that caused it with its own reason, the
 * others with "its packed worker was recycled" (their requests get a 502, as threads of one
 * process share its fate).
 */
import { within } from "../within.ts";
import { wrap, type Remote } from "comlink";
import type { GuestExit, RuntimeAdapter, WorkerHandle } from "../../adapters/types.ts";
import type { GuestControl } from "../channel/control.ts";
import type { HostEnd } from "../channel/end.ts";
import { PING_COLLECT, type GuestToHost, type HostToGuest, type PongFrame } from "../channel/frames.ts";
import { MAX_SLOT } from "../channel/codec.ts";
import { hostRingEnd, ringChannelMemory } from "../channel/ring-end.ts";
import { rpcChannel } from "../channel/rpc.ts";
import type { Logger } from "../log.ts";
import type { FunctionSpec } from "../manifest/load.ts";
import { describeExit, PACK_RECYCLED } from "../pool/exit.ts";
import { isStoreWanted, type PackedGuestData, type StoreMessage } from "./messages.ts";
import { SlotLink, type SlotHost } from "./slot.ts";

let nextWorkerId = 0;
const UNLOAD_TIMEOUT_MS = 2000;
const MB = 1024 * 1024;

export interface PackedWorkerOptions {
  adapter: RuntimeAdapter;
  log: Logger;
  /** The compiled packed-worker entry (runtime/guest/pack-main.ts). */
  file: string;
  heapMb: number;
  /** The thread is gone (every slot has heard of it). */
  onGone(worker: PackedWorker): void;
}

export class PackedWorker implements SlotHost {
  readonly id = ++nextWorkerId;
  readonly slots = new Map<number, SlotLink>();
  /** Requests sent to it, ever (the house compares recent counts). */
  requests = 0;
  /** How long its event loop took to answer the last liveness ping, in ms (or is taking now). */
  lagMs = 0;
  /** When it last held no function (0 while it holds some). */
  emptySince = Date.now();
  /** When it was last sent a request (0: never). */
  lastRequestAt = 0;
  /** idleMs of the last function it held. */
  idleMs = 30_000;
  private ready = false;
  private dead = false;
  private recycled: { why: string; slot: number } | undefined;
  private fatal: string | undefined;
  private readonly handle: WorkerHandle;
  private readonly end: HostEnd;
  private readonly control: Remote<GuestControl>;
  private readonly rpc;
  private ping: { id: number; at: number } | undefined;
  private pingIds = 0;
  private readonly exited: Promise<void>;

  constructor(private readonly o: PackedWorkerOptions) {
    const channel = ringChannelMemory();
    const wakeBy = o.adapter.caps.ringWakeup;
    const reads = o.adapter.caps.ringReads;
    const data: PackedGuestData = { channel, wakeBy, reads };
    this.handle = o.adapter.spawnWorker(o.file, {
      heapMb: o.heapMb,
      env: {}, // each function sees its own env in its context (adapters/guest-context.ts)
      data,
      onOutput: (_stream, line) => o.log.fn(this.label, "log", line),
    });
    // a function's first ctx.shared call asks for its store beside the ring (messages.ts)
    const port = this.handle.port;
    const ringPort = {
      post: port.post,
      onMessage: (l: (m: unknown) => void) => port.onMessage((m) => (isStoreWanted(m) ? this.sendStore(m.slot) : l(m))),
    };
    this.end = hostRingEnd({ sab: channel, port: ringPort, wakeBy, reads, wake: (fn) => o.adapter.schedule(fn) });
    this.rpc = rpcChannel((f) => this.end.send(f, 0));
    this.control = wrap<GuestControl>(this.rpc.endpoint);
    this.end.onFrame((f, slot) => (slot === 0 ? this.own(f) : this.forSlot(f, slot)));
    this.end.onBroken((e) => {
      for (const s of this.slots.values()) s.breakWith(e);
      void this.recycle(`sent a malformed frame (${e.message})`, 0);
    });
    this.exited = new Promise((resolve) => this.handle.onExit((exit) => resolve(this.onExit(exit))));
  }

  get label(): string {
    return `packed-worker-${this.id}`;
  }

  get alive(): boolean {
    return !this.dead && !this.recycled;
  }

  /** Has room for one more function (slots are a u16 on the channel). */
  get full(): boolean {
    return this.slots.size >= MAX_SLOT;
  }

  /** Give `spec` a slot; `store` gives its ctx.shared store when the function first asks for it. */
  attach(spec: FunctionSpec, store: () => Omit<StoreMessage, "slot" | "lanesStore">): SlotLink {
    let slot = 1;
    while (this.slots.has(slot)) slot++;
    const link = new SlotLink(this, slot, spec, store);
    this.slots.set(slot, link);
    this.emptySince = 0;
    this.idleMs = spec.instances.idleMs;
    link.onExit(() => {
      this.slots.delete(slot);
      if (this.slots.size === 0) this.emptySince = Date.now();
    });
    // an instance waits for `ready` before it loads its function: a started worker is ready now
    if (this.ready) queueMicrotask(() => link.deliver({ t: "ready" }));
    return link;
  }

  private sendStore(slot: number): void {
    const link = this.slots.get(slot);
    if (!link || this.dead) return;
    const message: StoreMessage = { lanesStore: true, slot, ...link.store() };
    // a plain message on the port, beside the ring (pack-main.ts takes it off before the ring's reader)
    (this.handle.port.post as (m: unknown) => void)(message);
  }

  send(frame: HostToGuest, slot: number): void {
    if (this.dead) return;
    if (frame.t === "req") {
      this.requests++;
      this.lastRequestAt = Date.now();
    }
    this.end.send(frame, slot);
  }

  flush(): void {
    this.end.flush();
  }

  drain(): void {
    this.end.drain();
  }

  async unload(link: SlotLink): Promise<void> {
    if (!this.dead) {
      // the slot is free for another function only once the worker has forgotten this one
      // (bounded: a worker stuck in a CPU loop answers nothing, and its recycling ends it)
      await within(Promise.race([this.control.unload(link.slot).catch(() => {}), this.exited]), UNLOAD_TIMEOUT_MS);
    }
    link.finish({ code: 0, signal: null, stderrTail: "" });
  }

  async recycle(why: string, slot: number): Promise<void> {
    if (!this.dead) {
      this.recycled ??= { why, slot };
      if (!this.ready) this.o.log.warn(`${this.label}: ${why}; stopping it`);
      else this.o.log.error(`${this.label}: ${why}; recycling the worker and the ${this.slots.size} function(s) in it`);
      await this.handle.kill(why);
    }
    await this.exited;
  }

  /** Its thread has started (its `ready` came). */
  get started(): boolean {
    return this.ready;
  }

  silentMs(): number {
    return this.ping && !this.dead ? Date.now() - this.ping.at : 0;
  }

  /** Stop the thread (host shutdown, or empty for long enough). */
  async stop(): Promise<void> {
    this.recycled ??= { why: "was stopped", slot: 0 };
    await this.handle.kill();
    await this.exited;
  }

  /** Send a liveness ping unless one is out; `lagMs` grows while it is. */
  measure(now = Date.now()): void {
    if (this.dead || !this.ready) return;
    if (this.ping) {
      this.lagMs = Math.max(this.lagMs, now - this.ping.at);
      return;
    }
    this.ping = { id: ++this.pingIds, at: now };
    this.end.send({ t: "ping", id: this.ping.id }, 0);
  }

  private own(f: GuestToHost): void {
    switch (f.t) {
      case "ready":
        this.ready = true;
        for (const s of this.slots.values()) s.deliver(f);
        return;
      case "rpc":
        return this.rpc.deliver(f);
      case "pong":
        if (this.ping?.id === f.id) {
          this.lagMs = Date.now() - this.ping.at;
          this.ping = undefined;
        }
        return this.judgeMemory(f);
      case "log":
        return f.level === "dropped" ? this.o.log.dropped(this.label, Number(f.text)) : this.o.log.fn(this.label, f.level, f.text, f.requestId);
      case "fatal":
        this.fatal = f.message;
        return this.o.log.error(`${this.label}: ${f.stack}`);
    }
  }

  /**
   * The memory watchdog of unpacked isolates (runtime/pool/watchdog.ts) does not watch packed
   * ones, whose memory is no one function's: a packed function that held ArrayBuffers, which no
   * heap limit counts, grew the host by gigabytes. So the worker is judged as a whole, on the
   * liveness pings' readings, against its heap limit: a reading over it asks for one after a full
   * collection (garbage does not count), and that one over it recycles the worker.
   */
  private judgeMemory(f: PongFrame): void {
    const held = f.heap + f.external;
    if (held <= this.o.heapMb * MB) return;
    if (f.id !== PING_COLLECT) return this.end.send({ t: "ping", id: PING_COLLECT }, 0);
    void this.recycle(`ran out of memory: it held ${Math.round(held / MB)} MB of heap and ArrayBuffers, over the ${this.o.heapMb} MB of its packed functions' memoryMb`, 0);
  }

  private forSlot(f: GuestToHost, slot: number): void {
    const link = this.slots.get(slot);
    if (f.t === "fatal") this.recycled ??= { why: `function "${link?.spec.name ?? slot}" crashed (${f.message})`, slot };
    link?.deliver(f);
  }

  private onExit(exit: GuestExit): void {
    this.dead = true;
    this.end.drain(); // what it wrote last (a fatal frame) is read before anyone hears of the exit
    this.end.close();
    this.rpc.close();
    const cause = this.recycled ? `was recycled: ${this.recycled.why}` : `${describeExit(exit)}${this.fatal ? ` (${this.fatal})` : ""}`;
    if (!this.recycled) this.o.log.error(`${this.label} ${cause}; the ${this.slots.size} function(s) in it are cut off`);
    for (const link of [...this.slots.values()]) {
      // the function that caused it ends with its own exit; its neighbours are told why theirs came
      if (this.recycled && link.slot === this.recycled.slot) link.finish(exit);
      else
        link.finish({ code: exit.code, signal: null, stderrTail: "", error: { name: "PackedWorkerGone", code: PACK_RECYCLED, message: `its packed worker ${this.id} ${cause}` } });
    }
    this.o.onGone(this);
  }
}
