/**
 * One running instance of a function (a worker thread or a child process) seen from the host.
 * It owns its lifecycle, one state machine whose transitions are the methods below:
 *
 *   starting ──start() ok──▶ ready ──retire()──▶ retiring ──(its process ends)──▶ dead
 *       │                      │                     │
 *       └── start() fails, stop(), fail(why) ─────────┴──────────────────────────▶ dead
 *
 * and `ending` says why it ended: "stopped" (the host no longer needed it), "crashed" (it died
 * by itself, or the host had to stop it: `fail(why)`), or "failed to start".
 */
import { wrap, type Remote } from "comlink";
import type { GuestExit, Reply } from "../../adapters/types.ts";
import type { GuestControl, LoadSpec } from "../channel/control.ts";
import { PING_COLLECT, type GuestToHost, type HostToGuest } from "../channel/frames.ts";
import { rpcChannel } from "../channel/rpc.ts";
import { LanesError } from "../errors.ts";
import type { GuestLink } from "../lanes/lane.ts";
import { describeExit, exitCause, startError } from "./exit.ts";
import { InFlightTable } from "./inflight.ts";
import { Pings } from "./pings.ts";
import { SharedCalls } from "./shared-calls.ts";
import { UnaskedFrames } from "./unasked.ts";
import { withoutPaths, type ClientHooks, type InstanceEvents, type RequestInput } from "./instance-events.ts";
import { BOOT_TIMEOUT_MS, hangAfter } from "./start.ts";
export type { ClientHooks, InstanceEvents, RequestInput } from "./instance-events.ts";
export type InstanceState = "starting" | "ready" | "retiring" | "dead";
export type EndKind = "stopped" | "crashed" | "failed to start";

let nextInstanceId = 0;

export class Instance {
  readonly id = ++nextInstanceId;
  readonly control: Remote<GuestControl>;
  readonly startedAt = Date.now();
  /** Requests ever sent to it. */
  dispatched = 0;
  lastUsed = Date.now();
  /** When it became ready (0: never). */
  readyAt = 0;
  /** Heap and outside-heap bytes the guest last reported (see `measure`); `collected`: after a full collection. */
  memory = { heap: 0, external: 0, collected: false };
  exit: GuestExit | undefined;
  private _state: InstanceState = "starting";
  private ending: { kind: EndKind; why?: string; cause?: string } | undefined;
  /** The guest reported an uncaught exception: it is ending, and takes no new request. */
  fatal: string | undefined;
  private readonly table: InFlightTable;
  private readonly rpc;
  private readonly shared: SharedCalls;
  /**
   * The guest's `ready` frame, which can come before `start` is called: the channel is read from
   * when the instance listens, in its constructor, and a Deno worker can write `ready` before
   * `new Worker` has returned (../../adapters/README.md, Workers).
   */
  private readonly ready: Promise<void>;
  private sayReady!: () => void;
  private readonly pings = new Pings((f) => {
    if (this._state === "dead") return false;
    this.link.end.send(f);
    return true;
  });
  private readonly unasked = new UnaskedFrames((why) => void this.fail(why, "unasked_frames"));

  constructor(
    private readonly link: GuestLink,
    private readonly events: InstanceEvents,
  ) {
    this.table = new InFlightTable(
      this.expire,
      (id, t = "cancel") => this.send({ t, id }),
      () => this.onSettled(),
      (requestId, why) => this.events.cut?.(requestId, why),
      (id) => this.clientGone(id),
    );
    this.rpc = rpcChannel((f) => this.send(f));
    this.shared = new SharedCalls(events, link.end, (why) => void this.fail(why, "shared_flood"));
    this.control = wrap<GuestControl>(this.rpc.endpoint);
    this.ready = new Promise<void>((resolve) => (this.sayReady = resolve));
    link.end.onFrame((f) => this.onFrame(f));
    link.end.onBroken((e) => void this.fail(`sent a malformed frame (${e.message})`, "malformed_frame"));
    link.onExit((exit) => this.onExit(exit));
  }

  get state(): InstanceState {
    return this._state;
  }

  /** Requests in flight on it. */
  get inflight(): number {
    return this.table.size;
  }

  /** It reached ready at some point (a failure before that is a failed start). */
  get reachedReady(): boolean {
    return this.readyAt > 0;
  }

  /** Why it ended, once it has: the host stopped it, it crashed, or it never started. */
  get endKind(): EndKind | undefined {
    return this._state === "dead" ? (this.ending?.kind ?? "crashed") : undefined;
  }

  /** The host is stopping it or has stopped it (see `stop`, `fail`). */
  get stopping(): boolean {
    return this.ending !== undefined;
  }

  /** It ended because the host had to stop it (`fail`), not by itself. */
  get failedByHost(): boolean {
    return this.ending?.kind === "crashed" && this.ending.why !== undefined;
  }

  /** A liveness ping is out (see `probe`). */
  get isProbing(): boolean {
    return this.pings.isProbing;
  }

  /**
   * Wait for the guest's `ready` frame, then load the function, racing both against the guest
   * exiting (named, even as it answers its load) and a deadline so a broken start never hangs.
   */
  async start(spec: LoadSpec, timeoutMs: number): Promise<void> {
    // stopped by the host (`fail`: its channel closed, over its memory): why, not the SIGKILL
    const died = new Promise<never>((_, reject) => this.link.onExit((exit) => reject(startError(exit, this.ending?.why))));
    const deadline = hangAfter(timeoutMs, `instance did not start within ${timeoutMs} ms`);
    // the guest's own code boots in well under a second: one silent past BOOT_TIMEOUT_MS is hung
    const boot = hangAfter(Math.min(BOOT_TIMEOUT_MS, timeoutMs), `instance did not boot within ${Math.min(BOOT_TIMEOUT_MS, timeoutMs)} ms`);
    try {
      await Promise.race([this.ready, died, deadline.hung, boot.hung]);
      boot.cancel();
      // a warm spare gets its function's bundle now, in a folder of its own (runtime/lanes/spares.ts)
      const load = this.link.prepareLoad ? await Promise.race([this.link.prepareLoad(spec), died, deadline.hung]) : spec;
      await Promise.race([this.control.load(load), died, deadline.hung]);
      if (this._state !== "starting")
        throw this.exit && this.ending?.kind === "failed to start" ? startError(this.exit) : new LanesError("unavailable", "instance stopped while starting");
      this._state = "ready";
      this.readyAt = Date.now();
    } catch (e) {
      this.ending ??= { kind: "failed to start" };
      void this.end();
      if (e instanceof LanesError) throw e;
      const message = (e as Error).message;
      throw new LanesError("unavailable", `its module failed to load: ${withoutPaths(message)}`, { guestStack: (e as Error).stack ?? message, cause: e });
    } finally {
      deadline.cancel();
      boot.cancel();
    }
  }

  /**
   * Send a request; resolves with the reply once its head arrives, or fails at `deadline`. A
   * client that goes away cancels it (the guest aborts the function's request.signal).
   */
  request(input: RequestInput, deadline: number, client: ClientHooks = {}): Promise<Reply> {
    this.dispatched++;
    this.lastUsed = Date.now();
    const { id, reply } = this.table.add(input.requestId, deadline, client, input.method === "HEAD");
    // fields named, not spread: a spread copies through a generic path on Bun (2% of its host thread)
    this.send({ t: "req", id, requestId: input.requestId, method: input.method, url: input.url, headers: input.headers, params: input.params, body: input.body });
    return reply;
  }

  private clientGone(id: number): void {
    this.abandon(id, new LanesError("client_gone", "the client went away before its answer"));
  }

  /** Give up on a request (deadline or client gone): the guest is told to cancel it. */
  abandon(id: number, err: LanesError): void {
    if (this.table.fail(id, err)) this.send({ t: "cancel", id });
  }

  /** ready → retiring: it takes no new requests; the pool stops it once its requests are done. */
  retire(): void {
    if (this._state === "ready" || this._state === "starting") this._state = "retiring";
  }

  /** The host no longer needs it: stop it now. Its end is not a crash. */
  stop(): Promise<void> {
    this.ending ??= { kind: "stopped" };
    return this.end();
  }

  /** The host has to stop it (a CPU loop, over its memory): a crash, for `why`; `cause` names it for metrics (`endCause`). */
  fail(why: string, cause = "stopped_by_host"): Promise<void> {
    this.ending ??= { kind: "crashed", why, cause };
    return this.end();
  }

  /** Why it ended, as a metric label: the host's `cause`, an uncaught exception, or how it exited. */
  get endCause(): string {
    if (this.ending?.cause) return this.ending.cause;
    if (this.fatal) return "uncaught_exception";
    return this.exit ? exitCause(this.exit) : "unknown";
  }

  /**
   * Does the guest's event loop still turn? Resolves true if it answers within `ms`, false if
   * not (stuck in a CPU loop) or if it died meanwhile. A probe already out is shared.
   */
  probe(ms: number): Promise<boolean> {
    return this._state === "dead" ? Promise.resolve(false) : this.pings.probe(ms);
  }

  readonly rss = (): number | undefined => this.link.rss();
  readonly threads = (): number | undefined => this.link.threads?.();
  readonly refusedTasks = (): number | undefined => this.link.refusedTasks?.();
  /** Why a child runs on without its channel to the host (it closed its stdin or stdout); else undefined. */
  readonly channelLost = (): string | undefined => this.link.channelLost?.();

  /** The host's id of the process that runs it (process lane); undefined for a worker. */
  pid(): number | undefined {
    return this.link.pid();
  }

  /** Ask the guest what its memory holds (after collecting its garbage, with `collect`); the answer lands in `memory`. */
  measure(collect = false): void {
    this.pings.measure(collect);
  }

  /** How it ended (or is ending), in words, for the host log. */
  describeEnd(): string {
    if (this.ending?.why) return this.ending.why;
    if (this.fatal) return `crashed: ${this.fatal}`;
    return this.exit ? describeExit(this.exit) : "is running";
  }

  private async end(): Promise<void> {
    if (this._state === "dead") return;
    if (this._state !== "starting") this._state = "retiring";
    await this.link.kill(this.ending?.kind === "crashed" ? this.ending.why : undefined);
  }

  private readonly expire = (id: number) => {
    if (!this.table.has(id)) return;
    this.abandon(id, this.events.timeoutError?.() ?? new LanesError("timeout", "the function did not answer in time"));
    this.events.expired?.(this);
  };

  private send(f: HostToGuest): void {
    if (this._state !== "dead") this.link.end.send(f);
  }

  private onSettled(): void {
    this.lastUsed = Date.now();
    if (this._state !== "dead") this.events.released(this);
  }

  private onFrame(f: GuestToHost): void {
    switch (f.t) {
      case "res":
        return this.table.gaveOut(f.id) ? this.table.head(f) : this.unasked.seen(`an answer to request id ${f.id}`);
      case "chunk":
        if (!this.table.gaveOut(f.id)) return this.unasked.seen(`a chunk of request id ${f.id}`);
        if (!this.table.chunk(f.id, f.body)) void this.fail("sent a streamed answer past its window (more than the client had taken)", "malformed_frame");
        return;
      case "end":
        return this.table.gaveOut(f.id) ? this.table.end(f.id, f.error) : this.unasked.seen(`the end of request id ${f.id}`);
      case "err":
        if (!this.table.gaveOut(f.id)) return this.unasked.seen(`an error of request id ${f.id}`);
        this.events.log("error", f.stack, this.table.requestIdOf(f.id)); // the 500's stack, found by its request id
        this.table.fail(f.id, new LanesError("function_error", `the function threw: ${f.message}`, { guestStack: f.stack }));
        return;
      case "log":
        return f.level === "dropped" ? this.events.dropped(Number(f.text)) : this.events.log(f.level, f.text, f.requestId);
      case "pong":
        if (!this.pings.pong(f)) return this.unasked.seen(`a pong with id ${f.id}, no ping out`);
        this.memory = { heap: f.heap, external: f.external, collected: f.id === PING_COLLECT };
        return;
      case "fatal":
        this.fatal = f.message;
        return this.events.log("error", f.stack, undefined);
      case "ready":
        return this.sayReady();
      case "rpc":
        return this.rpc.deliver(f);
      case "shared":
        return this.shared.call(f);
    }
  }

  private onExit(exit: GuestExit): void {
    this.exit = exit;
    const wasStarting = this._state === "starting";
    this._state = "dead";
    if (!this.ending) this.ending = wasStarting ? { kind: "failed to start" } : { kind: "crashed" };
    this.pings.died();
    this.table.failAll(new LanesError("instance_crashed", `the instance running this function ${this.describeEnd()}`));
    this.rpc.close();
    this.shared.close();
    this.events.gone(this, exit);
  }
}
