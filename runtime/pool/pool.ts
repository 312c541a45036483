/**
 * The instances of one function, in either lane: pick the least-busy ready instance, start more
 * up to `instances.max`, queue up to `queue` requests, reap idle instances above `min`, replace
 * dead ones, back off when a function keeps failing to start, stop stuck instances and
 * children over their memory. The lane only decides how an instance is spawned (see
 * runtime/lanes/).
 */
import type { GuestExit, Reply } from "../../adapters/types.ts";
import type { LoadSpec } from "../channel/control.ts";
import { LanesError } from "../errors.ts";
import type { GuestLink } from "../lanes/lane.ts";
import type { Logger } from "../log.ts";
import type { FunctionSpec } from "../manifest/load.ts";
import type { PoolObserver } from "../ops/meter.ts";
import { Instance, type ClientHooks, type InstanceEvents, type RequestInput } from "./instance.ts";
import { RequestQueue } from "./queue.ts";
import { finishWaitUntil } from "./wait-until.ts";
import { watchMemory } from "./watchdog.ts";

export interface PoolDeps {
  spawn(): GuestLink;
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

const START_TIMEOUT_MS = 15_000;
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 30_000;
/**
 * How long an instance whose request ran past its deadline gets to answer a ping. Any instance
 * whose event loop turns answers in well under a millisecond; one in a CPU loop never does.
 */
export const LIVENESS_MS = 500;
/** An instance that dies on its own this soon after starting, before any request, is a failed start. */
const CRASH_LOOP_MS = 2000;

export class Pool {
  readonly instances: Instance[] = [];
  private starting = 0;
  private readonly queue: RequestQueue;
  private failures = 0;
  private backoffUntil = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private lastError: LanesError | undefined;
  private stopped = false;
  private readonly reaper: ReturnType<typeof setInterval>;
  private readonly stopWatchdog: () => void;
  restarts = 0;
  handled = 0;
  /** Instances stopped in a CPU loop whose thread kept spinning (Deno workers); never routed to again. */
  leaked = 0;

  constructor(
    readonly spec: FunctionSpec,
    private readonly deps: PoolDeps,
  ) {
    this.queue = new RequestQueue(spec.queue, { timeout: () => this.timeout(), overloaded: () => this.overloaded() });
    this.reaper = setInterval(() => this.reap(), Math.min(1000, spec.instances.idleMs));
    (this.reaper as { unref?: () => void }).unref?.();
    this.stopWatchdog = watchMemory(this.instances, spec, (inst, why) => {
      this.deps.log.error(`${spec.name}: instance ${inst.id} ${why}; stopping it`);
      void inst.fail(why, "memory_limit");
    });
  }

  /** Start `count` (default: `min`) instances; resolves when they are ready (or failed). */
  async warm(count = this.spec.instances.min): Promise<void> {
    const starts: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) starts.push(this.grow());
    await Promise.allSettled(starts);
  }

  dispatch(frame: RequestInput, deadline: number, client: ClientHooks = {}): Promise<Reply> {
    if (this.stopped) return Promise.reject(new LanesError("unavailable", `function "${this.spec.name}" is stopping`));
    const inst = this.pick();
    if (inst) return this.run(inst, frame, deadline, client);
    if (this.backoffUntil > Date.now() && this.live() === 0) return Promise.reject(this.unavailable());
    if (this.queue.full) return Promise.reject(this.overloaded());
    const queued = this.queue.push(frame, deadline, client);
    this.replenish();
    return queued;
  }

  /**
   * Whether a request can go ahead: undefined when it can now, else a promise that settles
   * once it can, or rejects with `overloaded` after a short grace (queue.ts). The host asks
   * before reading a request body, so a flood is refused without buffering its bodies.
   */
  admit(): Promise<void> | undefined {
    if (this.stopped || this.hasRoom()) return undefined;
    return this.queue.room(this.hasRoom);
  }

  private readonly hasRoom = (): boolean => !this.queue.full || this.pick() !== undefined;

  /** Stop every instance: in-flight requests get `graceMs` to finish. */
  /**
   * `finishWaitUntil` (shutdown): then pending ctx.waitUntil work gets what is left of the grace.
   * Not on a version switch: a Deno worker started while another waits there may never start
   * (adapters/README.md, Workers).
   */
  async stop(graceMs: number, o: { finishWaitUntil?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.finishWaitUntil = o.finishWaitUntil === true;
    clearInterval(this.reaper);
    clearTimeout(this.retryTimer);
    this.stopWatchdog();
    this.queue.rejectAll(new LanesError("unavailable", `function "${this.spec.name}" is stopping`));
    // a copy: on Deno terminate() fires 'exit' synchronously, and gone() splices this.instances
    await Promise.all([...this.instances].map((i) => this.retire(i, graceMs)));
  }

  /** Set by stop(): wait for ctx.waitUntil work before stopping an instance. */
  private finishWaitUntil = false;

  /** Why the last instance start failed; cleared by a successful start (`lanes dev` shows it). */
  get startError(): LanesError | undefined {
    return this.lastError;
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

  private pick(): Instance | undefined {
    let best: Instance | undefined;
    for (const i of this.instances) {
      if (i.state !== "ready" || i.inflight >= this.spec.concurrency) continue;
      if (!best || i.inflight < best.inflight) best = i;
    }
    return best;
  }

  private run(inst: Instance, frame: RequestInput, deadline: number, client: ClientHooks): Promise<Reply> {
    // spent its whole time queued: answer without bothering (or blaming) an instance
    if (deadline <= Date.now()) return Promise.reject(this.timeout());
    this.handled++;
    return inst.request(frame, deadline, client);
  }

  /**
   * A request ran past its deadline (its client has its 504). The guest cannot be interrupted
   * from outside, so the instance leaves the rotation and is replaced. A ping tells what it is
   * doing: one that answers is only waiting on a promise that never settles, so its other
   * requests may finish first; one that does not is stuck in a CPU loop and is stopped now.
   */
  private onExpired(inst: Instance) {
    if (inst.state === "dead" || inst.isProbing) return;
    if (inst.state === "ready") {
      inst.retire();
      this.replenish();
    }
    void inst.probe(LIVENESS_MS).then((alive) => {
      if (inst.state === "dead") return;
      if (!alive) return this.stopSpinning(inst);
      this.deps.log.warn(
        `${this.spec.name}: a request ran past timeoutMs (${this.spec.timeoutMs} ms); instance ${inst.id} is replaced once its ${inst.inflight} other request(s) finish`,
      );
      this.deps.observer?.lost("timeout", false);
      if (inst.inflight === 0) void inst.stop();
    });
  }

  private stopSpinning(inst: Instance) {
    const why = `was stopped: it did not respond for ${LIVENESS_MS} ms after a request ran past timeoutMs (a CPU loop?)`;
    if (this.deps.stopsSpin === false) {
      this.leaked++;
      this.deps.log.error(
        `${this.spec.name}: instance ${inst.id} is stuck in a CPU loop and this runtime cannot stop a spinning worker ` +
          `(denoland/deno#35657): its thread is leaked (${this.leaked} so far) and gets no more requests. ` +
          `Set "lane": "process" for ${this.spec.name} so a stuck instance can be killed.`,
      );
    }
    void inst.fail(why, "cpu_loop"); // its exit is logged as a crash, with `why`
  }

  /**
   * Start an instance if the pool needs one: fewer than `min`, or requests waiting and room
   * under `max`. During a back-off, one timer tries again when it ends.
   */
  private replenish() {
    if (this.stopped) return;
    const have = this.live() + this.starting;
    if (!(have < this.spec.instances.min || (this.queue.length > 0 && have < this.spec.instances.max))) return;
    const wait = this.backoffUntil - Date.now();
    if (wait <= 0) {
      void this.grow();
    } else if (!this.retryTimer) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.replenish();
      }, wait);
      (this.retryTimer as { unref?: () => void }).unref?.();
    }
  }

  private async grow(): Promise<void> {
    if (this.stopped) return;
    this.starting++;
    try {
      const t0 = performance.now();
      const inst = new Instance(this.deps.spawn(), this.events);
      this.instances.push(inst);
      await inst.start(this.deps.load, Math.min(START_TIMEOUT_MS, Math.max(this.spec.timeoutMs, 5000)));
      this.deps.observer?.started(performance.now() - t0);
      // `failures` is reset only once an instance serves a request: one that starts and dies
      // at once, again and again, must still back off exponentially
      this.lastError = undefined;
    } catch (e) {
      this.onStartFailure(e instanceof LanesError ? e : new LanesError("unavailable", String(e)));
    } finally {
      this.starting--;
    }
    this.drainQueue();
  }

  private onStartFailure(err: LanesError) {
    this.deps.observer?.startFailed();
    this.failures++;
    const wait = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.failures - 1));
    this.backoffUntil = Date.now() + wait;
    this.lastError = err;
    const detail = err.guestStack ? `\n${err.guestStack.replace(/^/gm, "    ")}` : "";
    this.deps.log.error(
      `${this.spec.name}: cannot start (${err.message}); ${this.failures} failure(s) in a row, backing off ${wait} ms${detail}`,
    );
    if (this.live() === 0) {
      // nothing can serve the queue: answer it now rather than let it wait for the deadline
      this.queue.rejectAll(this.unavailable());
    }
    this.replenish();
  }

  private drainQueue() {
    this.queue.letIn(); // an instance has room: a request waiting for room may go ahead
    while (this.queue.length > 0) {
      const inst = this.pick();
      if (!inst) break;
      const w = this.queue.shift()!;
      this.run(inst, w.frame, w.deadline, w.client).then(w.resolve, w.reject);
    }
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
    const now = Date.now();
    let keep = this.live();
    const stops: Promise<void>[] = [];
    for (const i of [...this.instances]) {
      if (keep <= this.spec.instances.min) break;
      if (unusedOnly && i.dispatched > 0) continue;
      if (i.state === "ready" && i.inflight === 0 && now - i.lastUsed >= idleMs) {
        keep--;
        stops.push(this.retire(i, 0));
      }
    }
    return Promise.all(stops);
  }

  private readonly events: InstanceEvents = {
    log: (level, text, requestId) => this.deps.log.fn(this.spec.name, level, text, requestId),
    shared: (op, key, value) => this.deps.shared(op, key, value),
    timeoutError: () => this.timeout(),
    expired: (inst) => this.onExpired(inst),
    cut: (requestId, why) => this.deps.log.warn(`${this.spec.name}: the response to request ${requestId} was cut short after its head was sent: ${why}`),
    released: (inst) => {
      if (this.failures !== 0) this.failures = 0; // it served: whatever failed before is over
      if (inst.state === "retiring" && inst.inflight === 0 && !inst.isProbing && !this.stopped) void inst.stop();
      this.drainQueue();
    },
    gone: (inst: Instance, exit: GuestExit) => {
      const at = this.instances.indexOf(inst);
      if (at >= 0) this.instances.splice(at, 1);
      // a failed start is grow()'s to report and follow up (after the back-off it sets)
      if (this.stopped || !inst.reachedReady) return;
      // an instance the host stopped is not a crash
      if (inst.endKind === "crashed") {
        if (!inst.failedByHost && inst.dispatched === 0 && Date.now() - inst.readyAt < CRASH_LOOP_MS) {
          // it died on its own right after starting: a failed start, so a crash loop backs off
          const tail = exit.stderrTail.trim();
          this.onStartFailure(
            new LanesError("unavailable", `instance ${inst.describeEnd()} right after starting`, tail ? { guestStack: tail } : {}),
          );
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
    return new LanesError("timeout", `function "${this.spec.name}" did not answer within ${this.spec.timeoutMs} ms`);
  }

  private overloaded(): LanesError {
    this.deps.observer?.shed(); // called once per request refused with 503
    return new LanesError(
      "overloaded",
      `function "${this.spec.name}" is at capacity (${this.spec.instances.max} instances x ${this.spec.concurrency} requests, ${this.spec.queue} queued)`,
      { headers: { "retry-after": "1" } },
    );
  }

  private unavailable(): LanesError {
    // the first line only: a client never sees a stack or a child's stderr (those are in the log)
    const why = this.lastError ? `: ${this.lastError.message.split("\n")[0]}` : "";
    return new LanesError("unavailable", `function "${this.spec.name}" cannot start${why}`, {
      headers: { "retry-after": String(Math.max(1, Math.ceil((this.backoffUntil - Date.now()) / 1000))) },
    });
  }
}
