/**
 * The instances of one function, in either lane: pick the least-busy ready instance, start more
 * up to `instances.max`, queue up to `queue` requests, reap idle instances above `min`, replace
 * dead ones, back off when a function keeps failing to start. The lane only decides how an
 * instance is spawned (see runtime/lanes/).
 */
import type { GuestChannel, GuestExit } from "../../adapters/types.ts";
import { LanesError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { FunctionSpec } from "../manifest/load.ts";
import type { LoadSpec, RequestFrame } from "../wire.ts";
import { describeExit, Instance, type InstanceEvents } from "./instance.ts";

export interface PoolDeps {
  spawn(): GuestChannel;
  load: LoadSpec;
  log: Logger;
  shared: InstanceEvents["shared"];
}

interface Waiter {
  frame: Omit<RequestFrame, "t" | "id">;
  deadline: number;
  resolve(res: Response): void;
  reject(err: LanesError): void;
  timer: ReturnType<typeof setTimeout>;
}

const START_TIMEOUT_MS = 15_000;
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 30_000;

export class Pool {
  readonly instances: Instance[] = [];
  private starting = 0;
  private readonly queue: Waiter[] = [];
  private failures = 0;
  private backoffUntil = 0;
  private lastError: LanesError | undefined;
  private stopped = false;
  private readonly reaper: ReturnType<typeof setInterval>;
  restarts = 0;
  handled = 0;

  constructor(
    readonly spec: FunctionSpec,
    private readonly deps: PoolDeps,
  ) {
    this.reaper = setInterval(() => this.reap(), Math.min(1000, spec.instances.idleMs));
    (this.reaper as { unref?: () => void }).unref?.();
  }

  /** Start the `min` instances; resolves when they are ready (or failed). */
  async warm(): Promise<void> {
    const starts: Promise<unknown>[] = [];
    for (let i = 0; i < this.spec.instances.min; i++) starts.push(this.grow());
    await Promise.allSettled(starts);
  }

  dispatch(frame: Omit<RequestFrame, "t" | "id">, deadline: number): Promise<Response> {
    if (this.stopped) return Promise.reject(new LanesError("unavailable", `function "${this.spec.name}" is stopping`));
    const inst = this.pick();
    if (inst) return this.run(inst, frame, deadline);
    if (this.backoffUntil > Date.now() && this.live() === 0) return Promise.reject(this.unavailable());
    if (this.queue.length >= this.spec.queue) {
      return Promise.reject(
        new LanesError(
          "overloaded",
          `function "${this.spec.name}" is at capacity (${this.spec.instances.max} instances x ${this.spec.concurrency} requests, ${this.spec.queue} queued)`,
          { headers: { "retry-after": "1" } },
        ),
      );
    }
    if (this.live() + this.starting < this.spec.instances.max) void this.grow();
    return new Promise<Response>((resolve, reject) => {
      const waiter: Waiter = {
        frame,
        deadline,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.queue.splice(this.queue.indexOf(waiter), 1);
          reject(this.timeout());
        }, Math.max(0, deadline - Date.now())),
      };
      this.queue.push(waiter);
    });
  }

  /** Stop every instance: in-flight requests get `graceMs` to finish. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    clearInterval(this.reaper);
    for (const w of this.queue.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new LanesError("unavailable", `function "${this.spec.name}" is stopping`));
    }
    await Promise.all(this.instances.map((i) => this.retire(i, graceMs)));
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

  private run(inst: Instance, frame: Omit<RequestFrame, "t" | "id">, deadline: number): Promise<Response> {
    this.handled++;
    const { id, response } = inst.request(frame);
    const left = deadline - Date.now();
    return new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => {
        inst.abandon(id, this.timeout());
        this.onStuck(inst);
      }, Math.max(0, left));
      response.then(
        (res) => {
          clearTimeout(timer);
          resolve(res);
        },
        (err: LanesError) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /**
   * A request ran past its deadline. The guest cannot be interrupted from outside (a CPU loop
   * or a promise that never settles), so the instance is taken out of rotation and replaced.
   */
  private onStuck(inst: Instance) {
    if (inst.state !== "ready") return;
    this.deps.log.warn(`${this.spec.name}: a request ran past timeoutMs (${this.spec.timeoutMs} ms); replacing instance ${inst.id}`);
    void this.retire(inst, 0);
    if (this.queue.length > 0 || this.live() < this.spec.instances.min) void this.grow();
  }

  private async grow(): Promise<void> {
    if (this.stopped) return;
    this.starting++;
    let inst: Instance | undefined;
    try {
      inst = new Instance(this.deps.spawn(), this.events);
      this.instances.push(inst);
      await inst.start(this.deps.load, Math.min(START_TIMEOUT_MS, Math.max(this.spec.timeoutMs, 5000)));
      this.failures = 0;
      this.lastError = undefined;
    } catch (e) {
      const err = e instanceof LanesError ? e : new LanesError("unavailable", String(e));
      this.onStartFailure(err);
    } finally {
      this.starting--;
    }
    this.drainQueue();
  }

  private onStartFailure(err: LanesError) {
    this.failures++;
    const wait = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.failures - 1));
    this.backoffUntil = Date.now() + wait;
    this.lastError = err;
    this.deps.log.error(
      `${this.spec.name}: cannot start (${err.message}); ${this.failures} failure(s) in a row, retrying in ${wait} ms`,
    );
    if (this.live() > 0) return;
    // nothing can serve the queue: answer it now rather than let it wait for the deadline
    for (const w of this.queue.splice(0)) {
      clearTimeout(w.timer);
      w.reject(this.unavailable());
    }
  }

  private drainQueue() {
    while (this.queue.length > 0) {
      const inst = this.pick();
      if (!inst) break;
      const w = this.queue.shift()!;
      clearTimeout(w.timer);
      this.run(inst, w.frame, w.deadline).then(w.resolve, w.reject);
    }
    if (this.queue.length > 0 && this.live() + this.starting < this.spec.instances.max && Date.now() >= this.backoffUntil) {
      void this.grow();
    }
  }

  private async retire(inst: Instance, graceMs: number): Promise<void> {
    if (inst.state === "dead") return;
    inst.state = "retiring";
    if (graceMs > 0 && inst.inflight > 0) {
      const deadline = Date.now() + graceMs;
      while (inst.inflight > 0 && Date.now() < deadline && inst.state !== "dead") {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    await inst.kill();
  }

  private reap() {
    const now = Date.now();
    let keep = this.live();
    for (const i of this.instances) {
      if (keep <= this.spec.instances.min) break;
      if (i.state === "ready" && i.inflight === 0 && now - i.lastUsed > this.spec.instances.idleMs) {
        keep--;
        void this.retire(i, 0);
      }
    }
  }

  private readonly events: InstanceEvents = {
    log: (level, text, requestId) => this.deps.log.fn(this.spec.name, level, text, requestId),
    shared: (op, key, value) => this.deps.shared(op, key, value),
    released: () => this.drainQueue(),
    gone: (inst: Instance, exit: GuestExit) => {
      const at = this.instances.indexOf(inst);
      if (at >= 0) this.instances.splice(at, 1);
      if (this.stopped) return;
      // a failed start is reported by grow(); an instance we stopped is not a crash
      if (inst.servedOnce && !inst.killedByHost) {
        this.restarts++;
        this.deps.log.error(`${this.spec.name}: instance ${inst.id} ${describeExit(exit)}; replacing it`);
      }
      if (this.live() + this.starting < this.spec.instances.min || this.queue.length > 0) void this.grow();
    },
  };

  private timeout(): LanesError {
    return new LanesError("timeout", `function "${this.spec.name}" did not answer within ${this.spec.timeoutMs} ms`);
  }

  private unavailable(): LanesError {
    const why = this.lastError ? `: ${this.lastError.message}` : "";
    return new LanesError("unavailable", `function "${this.spec.name}" cannot start${why}`, {
      headers: { "retry-after": String(Math.max(1, Math.ceil((this.backoffUntil - Date.now()) / 1000))) },
    });
  }
}
