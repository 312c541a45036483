/**
 * The instances of one function, in either lane: pick the least-busy ready instance, start more
 * up to `instances.max`, queue up to `queue` requests, reap idle instances above `min`, replace
 * dead ones, back off when a function keeps failing to start, stop stuck instances and children
 * over their memory. The lane only decides how an instance is spawned (runtime/lanes/).
 */
import type { GuestExit, Reply } from "../../adapters/types.ts";
import type { LoadSpec } from "../channel/control.ts";
import { LanesError } from "../errors.ts";
import type { GuestLink } from "../lanes/lane.ts";
import type { Logger } from "../log.ts";
import type { FunctionSpec } from "../manifest/load.ts";
import type { PoolObserver } from "../ops/meter.ts";
import { Instance, type ClientHooks, type InstanceEvents, type RequestInput } from "./instance.ts";
import { diedRightAfterStart, startError } from "./exit.ts";
import { StartBackoff } from "./backoff.ts";
import { maxQueueWaitMs, RequestQueue } from "./queue.ts";
import { startInstance, startTimeout } from "./start.ts";
import { idleAboveMin, ReapTimer } from "./reap.ts";
import { overloadedError, timeoutError, unavailableError } from "./refusals.ts";
import { pick, roomFor } from "./slots.ts";
import { checkStuck } from "./stuck.ts";
import { finishWaitUntil } from "./wait-until.ts";
import { watchInstances } from "./instance-watch.ts";

export interface PoolDeps {
  /** Runs before the first spawn (compiles the function); a rejection is a failed start. */
  prepare?(): Promise<void>;
  spawn(wanted: boolean): GuestLink; // wanted: a request waits for it (not `min` or the load check)
  load: LoadSpec;
  log: Logger;
  shared: InstanceEvents["shared"];
  /**
   * Stopping an instance also stops a CPU loop in it. False for Deno workers: terminate()
   * leaves the thread spinning (denoland/deno#35657), so such an instance is counted as leaked.
   */
  stopsSpin?: boolean;
  /** Metrics: starts, shed requests, timeouts, lost instances (runtime/ops/meter.ts). */
  observer?: PoolObserver;
}

export class Pool {
  readonly instances: Instance[] = [];
  private starting = 0;
  private readonly queue: RequestQueue;
  private readonly backoff = new StartBackoff();
  private stopped = false;
  /** Set by stop(): wait for ctx.waitUntil work before stopping an instance. */
  private finishWaitUntil = false;
  private readonly reaper: ReapTimer;
  private readonly stopWatchdog: () => void;
  private readonly checked = new WeakSet<Instance>();
  restarts = 0;
  handled = 0;
  /** Instances stopped in a CPU loop whose thread kept spinning (Deno workers); never routed to again. */
  leaked = 0;

  constructor(
    readonly spec: FunctionSpec,
    private readonly deps: PoolDeps,
  ) {
    this.reaper = new ReapTimer(() => void this.reap(), Math.min(1000, spec.instances.idleMs));
    this.queue = new RequestQueue(spec.queue, maxQueueWaitMs(spec.timeoutMs), { timeout: () => this.timeout(), overloaded: () => this.overloaded() }, this.notReadyRoom);
    this.stopWatchdog = watchInstances(this.instances, spec, deps);
  }

  /** Start `count` (default: `min`) instances; resolves when they are ready (or failed). */
  async warm(count = this.spec.instances.min): Promise<void> {
    const starts: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) starts.push(this.grow());
    await Promise.allSettled(starts);
  }

  dispatch(frame: RequestInput, deadline: number, client: ClientHooks = {}): Promise<Reply> {
    if (this.stopped) return Promise.reject(new LanesError("unavailable", `function "${this.spec.name}" is stopping`));
    const inst = pick(this.instances, this.spec.concurrency);
    if (inst) return this.run(inst, frame, deadline, client);
    if (this.backoff.until > Date.now() && this.live() === 0) return Promise.reject(this.unavailable());
    if (this.queue.full) return Promise.reject(this.overloaded());
    const queued = this.queue.push(frame, deadline, client);
    this.replenish();
    return queued;
  }

  /**
   * Whether a request can go ahead: undefined when it can now, else a promise that settles
   * once it can, or rejects with `overloaded` after a short grace (queue.ts). The host asks
   * before reading a request body, so a flood is refused without buffering its bodies. A request
   * let in holds its place (an instance's slot or the queue's) until `arrived`.
   */
  admit(): Promise<void> | undefined {
    if (!this.stopped && !this.hasRoom()) return this.queue.room(this.hasRoom);
    this.queue.reserve();
    return undefined;
  }

  /** A request let in by `admit` reached `dispatch`, or will not: the place it held is free. */
  arrived(): void {
    this.queue.release();
  }

  /** A free slot of a ready instance or a place in the queue that no request let in holds. */
  private readonly hasRoom = (): boolean => roomFor(this.instances, this.spec.concurrency, this.queue.places - this.queue.reserved);
  /** The room of instances not ready (starting, or to start under `max`): requests may wait for it beyond `queue` (queue.ts). */
  private readonly notReadyRoom = (): number => Math.max(0, this.spec.instances.max - this.live()) * this.spec.concurrency;

  /**
   * Stop every instance: in-flight requests get `graceMs` to finish. `finishWaitUntil` (shutdown, not a version switch:
   * ../../adapters/README.md, Workers): then pending ctx.waitUntil work gets what is left of the grace.
   */
  async stop(graceMs: number, o: { finishWaitUntil?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.finishWaitUntil = o.finishWaitUntil === true;
    this.reaper.stop();
    this.backoff.stop();
    this.stopWatchdog();
    this.queue.rejectAll(new LanesError("unavailable", `function "${this.spec.name}" is stopping`));
    // a copy: on Deno terminate() fires 'exit' synchronously, and gone() splices this.instances
    await Promise.all([...this.instances].map((i) => this.retire(i, graceMs)));
  }

  /** Why the last instance start failed; cleared by a successful start (`lanes dev` shows it). */
  get startError(): LanesError | undefined {
    return this.backoff.lastError;
  }

  /** No instance, not even one starting: it costs nothing now. */
  get empty(): boolean {
    return this.instances.length === 0 && this.starting === 0;
  }

  /** Requests waiting in the queue now. */
  get queued(): number {
    return this.queue.length;
  }

  /** Instances alive and not retiring. */
  live(): number {
    let n = 0;
    for (const i of this.instances) if (i.state === "ready") n++;
    return n;
  }

  private run(inst: Instance, frame: RequestInput, deadline: number, client: ClientHooks): Promise<Reply> {
    // spent its whole time queued: answer without bothering (or blaming) an instance
    if (deadline <= Date.now()) return Promise.reject(this.timeout());
    this.handled++;
    return inst.request(frame, deadline, client);
  }

  /** A request on `inst` ran past its deadline (its client has its 504): runtime/pool/stuck.ts. */
  private onExpired(inst: Instance) {
    // once per instance (several of its requests may expire); a ping out already is shared
    if (inst.state === "dead" || this.checked.has(inst)) return;
    this.checked.add(inst);
    if (inst.state === "ready") {
      inst.retire();
      setTimeout(() => this.replenish(), 0); // once the 504 has left: a Deno host spawns on its thread (../../README.md, HTTP behaviour)
    }
    checkStuck(inst, this.spec, this.deps, this);
  }

  /** Start an instance if the pool needs one: fewer than `min`, or more requests waiting than the instances starting will take (one request at start-up started a second: ../../README.md, The manifest, `instances`), with room under `max`. During a back-off, one timer tries again when it ends. */
  private replenish() {
    if (this.stopped) return;
    const have = this.live() + this.starting;
    if (!(have < this.spec.instances.min || (this.queue.length > this.starting * this.spec.concurrency && have < this.spec.instances.max))) return;
    if (this.backoff.ready(() => this.replenish())) void this.grow();
  }

  private async grow(): Promise<void> {
    if (this.stopped) return;
    this.starting++;
    let failure: LanesError | undefined;
    try {
      const t0 = performance.now();
      await this.deps.prepare?.();
      if (this.stopped) return;
      const inst = await startInstance(this.newInstance, this.deps.load, startTimeout(this.spec.timeoutMs), this.running, this.warn);
      this.deps.observer?.started(performance.now() - t0);
      if (inst.state !== "dead") this.backoff.lastError = undefined; // (failures in a row end once it serves: backoff.ts; a dead one, gone() reported)
    } catch (e) {
      // a start cut short because the pool is stopping is no failure of the function
      if (!this.stopped) failure = e instanceof LanesError ? e : new LanesError("unavailable", String(e));
    } finally {
      this.starting--;
    }
    // after `starting--`: before, replenish() counts this start toward `min` (gone()'s too, for an instance dead as this start ends) and never retries
    if (failure) this.onStartFailure(failure);
    this.drainQueue();
    if (this.queue.length === 0) this.replenish(); // (drainQueue() did when requests still wait, once the new instance took its share)
  }

  private readonly newInstance = (): Instance => {
    const inst = new Instance(this.deps.spawn(this.queue.length > 0), this.events);
    this.instances.push(inst);
    this.reaper.start();
    return inst;
  };
  private readonly running = () => !this.stopped;
  private readonly warn = (text: string) => this.deps.log.warn(`${this.spec.name}: ${text}`);

  private onStartFailure(err: LanesError) {
    this.deps.observer?.startFailed();
    const wait = this.backoff.failed(err);
    const detail = err.guestStack ? `\n${err.guestStack.replace(/^/gm, "    ")}` : "";
    this.deps.log.error(`${this.spec.name}: cannot start (${err.message}); ${this.backoff.failures} failure(s) in a row, backing off ${wait} ms${detail}`);
    // nothing can serve the queue: answer it now rather than let it wait for the deadline
    if (this.live() === 0) this.queue.rejectAll(this.unavailable());
    this.replenish();
  }

  private drainQueue() {
    while (this.queue.length > 0) {
      const inst = pick(this.instances, this.spec.concurrency);
      if (!inst) break;
      const w = this.queue.shift()!;
      this.run(inst, w.frame, w.deadline, w.client).then(w.resolve, w.reject);
    }
    this.queue.letIn(); // the room left, by instances or in the queue: requests waiting for it go ahead
    if (this.queue.length > 0) this.replenish();
  }

  private async retire(inst: Instance, graceMs: number): Promise<void> {
    if (inst.state === "dead") return;
    inst.retire();
    const deadline = Date.now() + graceMs;
    if (graceMs > 0 && inst.inflight > 0) {
      // (state changes behind TypeScript's back, when the instance exits)
      while (inst.inflight > 0 && Date.now() < deadline && (inst.state as Instance["state"]) !== "dead") {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    // shutting down: ctx.waitUntil work gets what is left of the grace
    if (this.stopped && this.finishWaitUntil && graceMs > 0) await finishWaitUntil(inst, deadline, this.spec.name, this.deps.log);
    await inst.stop();
  }

  /**
   * Stop the idle instances above `min` that never served a request (the start-up check's), now.
   * One a client already uses stays: clients arriving during the check would otherwise see their
   * instance stopped under them and pay a cold start again.
   */
  async trim(): Promise<void> {
    await this.reap(0, true);
  }

  private reap(idleMs = this.spec.instances.idleMs, unusedOnly = false): Promise<unknown> {
    const idle = idleAboveMin(this.instances, this.live(), this.spec.instances.min, idleMs, unusedOnly);
    return Promise.all(idle.map((i) => this.retire(i, 0)));
  }

  private readonly events: InstanceEvents = {
    log: (level, text, requestId) => this.deps.log.fn(this.spec.name, level, text, requestId),
    dropped: (lines) => this.deps.log.dropped(this.spec.name, lines),
    shared: (op, key, value) => this.deps.shared(op, key, value),
    timeoutError: () => this.timeout(),
    expired: (inst) => this.onExpired(inst),
    cut: (requestId, why) => this.deps.log.warn(`${this.spec.name}: the response to request ${requestId} was cut short after its head was sent: ${why}`),
    released: (inst) => {
      this.backoff.served();
      if (inst.state === "retiring" && inst.inflight === 0 && !inst.isProbing && !this.stopped) void inst.stop();
      this.drainQueue();
    },
    gone: (inst: Instance, exit: GuestExit) => {
      const at = this.instances.indexOf(inst);
      if (at >= 0) this.instances.splice(at, 1);
      if (this.instances.length === 0) this.reaper.stop();
      // a failed start is grow()'s to report and follow up (after the back-off it sets)
      if (this.stopped || !inst.reachedReady) return;
      // an instance the host stopped is not a crash
      if (inst.endKind === "crashed") {
        if (!inst.failedByHost && inst.dispatched === 0 && diedRightAfterStart(inst.readyAt, exit)) {
          // it died on its own right after starting: a failed start, so a crash loop backs off
          this.onStartFailure(startError(exit, inst.describeEnd(), "right after starting"));
          return;
        }
        this.restarts++;
        this.deps.observer?.lost(inst.endCause, !inst.failedByHost);
        this.deps.log.error(`${this.spec.name}: instance ${inst.id} ${inst.describeEnd()}; replacing it`);
      }
      this.replenish();
    },
  };

  private timeout(): LanesError {
    this.deps.observer?.timedOut(); // called once per request that gets the 504
    return timeoutError(this.spec);
  }

  private overloaded(): LanesError {
    this.deps.observer?.shed(); // called once per request refused with 503
    return overloadedError(this.spec);
  }

  private unavailable(): LanesError {
    return unavailableError(this.spec, this.backoff.lastError, this.backoff.until);
  }
}
