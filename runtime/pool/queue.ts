/**
 * Where a function's requests wait when every instance is busy. The queue is bounded by count
 * (`queue`) and by the bytes of the bodies it holds (MAX_QUEUED_BODY_BYTES), which bound the
 * memory a flood can hold, and by time: once the oldest waiting request has waited longer than
 * `maxWaitMs` (a second, or half the function's `timeoutMs` if less), a new request could not be
 * served in time and is refused (503) instead of being let in to time out. A refused request is
 * not refused at once: it waits a short grace for room first, and is let in the moment there is
 * some.
 *
 * Why a large count and a time bound: a closed-loop flood (every client sends its next request when the last is
 * answered) of a fast function queues briefly, and serving it is the most goodput the CPU can
 * give; refusing it would only make each client ask again at once. A slow function's queue goes
 * stale instead, and its new requests are refused within milliseconds rather than answered 504
 * after `timeoutMs`.
 *
 * Why the grace: clients that retry a 503 at once (load generators, naive retry loops) turn
 * instant refusals into a storm that takes the CPU the admitted requests need, and useful
 * throughput collapses (measured in ../../loadtest/README.md, Overload). A refusal that takes
 * OVERFLOW_GRACE_MS paces each such client to a few retries per 100 ms, while the client still
 * gets its 503 well within the 50 ms it should expect from an overloaded server.
 */
import type { Reply } from "../../adapters/types.ts";
import { LanesError } from "../errors.ts";
import type { ClientHooks, RequestInput } from "./instance.ts";

export const OVERFLOW_GRACE_MS = 30;
/** The longest a request should wait in a queue (less when half the function's timeoutMs is less). */
const MAX_QUEUE_WAIT_MS = 1000;

/** How long the oldest request in a function's queue may have waited before new ones are refused. */
export function maxQueueWaitMs(timeoutMs: number): number {
  return Math.min(MAX_QUEUE_WAIT_MS, Math.floor(timeoutMs / 2));
}
/** Requests waiting for room at most, per function: past this a refusal is immediate. */
const OVERFLOW_MAX = 20_000;
/**
 * Request bodies a function's queue holds at most (a queued request's body is read already):
 * past it, new requests are refused, so `queue` x `maxBodyBytes` never has to fit in memory.
 */
export const MAX_QUEUED_BODY_BYTES = 256 * 1024 * 1024;

export interface Waiter {
  frame: RequestInput;
  /** When it joined the queue (ms since the epoch). */
  since: number;
  deadline: number;
  client: ClientHooks;
  resolve(reply: Reply): void;
  reject(err: LanesError): void;
  timer: ReturnType<typeof setTimeout>;
}

interface Hopeful {
  admit(): void;
  refuse(): void;
  /** When its grace ends (ms since the epoch). */
  until: number;
}

export class RequestQueue {
  private readonly waiting: Waiter[] = [];
  private readonly hopeful: Hopeful[] = [];
  /** Body bytes of the waiting requests. */
  private bytes = 0;
  /**
   * Requests let in (by the pool's `admit`, or from `hopeful`) that have not reached `dispatch`
   * yet: each holds a place, an instance's or the queue's, until `release`. Without it, a place
   * freed once was given to each request let in before the first had arrived, and all but one
   * were refused after all (in floods, 21 to 1,227 of the let-in requests of a run).
   */
  reserved = 0;

  constructor(
    private readonly limit: number,
    private readonly maxWaitMs: number,
    private readonly errors: { timeout(): LanesError; overloaded(): LanesError },
    /**
     * Requests that may wait beyond `limit`: the room of instances not ready yet (starting, or
     * still to start under instances.max). Capacity is instances x concurrency + queue, so a
     * request that waits only for an instance to start is not one of the `queue` (with `queue`
     * 0, a function without a ready instance refused every request and never started one).
     */
    private readonly starting: () => number = () => 0,
  ) {}

  get length(): number {
    return this.waiting.length;
  }

  /** The places left for requests to wait in (places held by `reserved` requests not taken off): none once their bodies fill the budget or the oldest has waited past `maxWaitMs`. */
  get places(): number {
    const oldest = this.waiting[0];
    if (this.bytes >= MAX_QUEUED_BODY_BYTES || (oldest !== undefined && Date.now() - oldest.since > this.maxWaitMs)) return 0;
    return Math.max(0, this.limit + this.starting() - this.waiting.length);
  }

  /** No place for another request: `limit` (and what starting instances will take) are waiting or held, their bodies fill the budget, or the oldest has waited past `maxWaitMs`. */
  get full(): boolean {
    return this.places <= this.reserved;
  }

  /** A request let in holds a place until it reaches `dispatch` or gives up (`release`). */
  reserve(): void {
    this.reserved++;
  }

  release(): void {
    this.reserved--;
  }

  private letInOne(h: Hopeful): void {
    this.reserved++;
    h.admit();
  }

  /**
   * Wait for room in the queue for at most the grace; rejects with `overloaded` when none came.
   * `hasRoom` says whether the request can go ahead now (an instance or the queue has room).
   */
  room(hasRoom: () => boolean): Promise<void> {
    if (this.hopeful.length >= OVERFLOW_MAX) return Promise.reject(this.errors.overloaded());
    return new Promise<void>((resolve, reject) => {
      this.hasRoom = hasRoom;
      this.hopeful.push({ admit: resolve, refuse: () => reject(this.errors.overloaded()), until: Date.now() + OVERFLOW_GRACE_MS });
      // one timer for all of them: they wait the same grace, so the oldest ends first
      this.graceTimer ??= setTimeout(this.endGraces, OVERFLOW_GRACE_MS);
    });
  }

  private hasRoom: () => boolean = () => false;
  private graceTimer: ReturnType<typeof setTimeout> | undefined;

  /** Refuse every request whose grace is over (after one last look for room), then wait for the next. */
  private readonly endGraces = (): void => {
    this.graceTimer = undefined;
    const now = Date.now();
    while (this.hopeful.length > 0 && this.hopeful[0]!.until <= now) {
      const h = this.hopeful.shift()!;
      if (this.hasRoom()) this.letInOne(h);
      else h.refuse();
    }
    if (this.hopeful.length > 0) this.graceTimer = setTimeout(this.endGraces, this.hopeful[0]!.until - now);
  };

  /** Queue a request until an instance takes it or its deadline passes (the caller checked for room). */
  push(frame: RequestInput, deadline: number, client: ClientHooks = {}): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const waiter: Waiter = {
        frame,
        since: Date.now(),
        deadline,
        client,
        resolve,
        reject,
        timer: setTimeout(
          () => {
            this.remove(waiter);
            reject(this.errors.timeout());
            this.letIn();
          },
          Math.max(0, deadline - Date.now()),
        ),
      };
      this.waiting.push(waiter);
      this.bytes += frame.body?.byteLength ?? 0;
      // a client that leaves while its request waits takes it out of the queue
      client.onGone?.(() => this.leave(waiter));
    });
  }

  /** Takes `w` out of the queue; false when it was not there (an instance took it already). */
  private remove(w: Waiter): boolean {
    const at = this.waiting.indexOf(w);
    if (at < 0) return false;
    this.waiting.splice(at, 1);
    this.bytes -= w.frame.body?.byteLength ?? 0;
    return true;
  }

  private leave(w: Waiter): void {
    if (!this.remove(w)) return;
    clearTimeout(w.timer);
    w.reject(new LanesError("client_gone", "the client went away while its request was queued"));
    this.letIn();
  }

  /**
   * The longest-waiting request, out of the queue (its deadline timer stopped). The caller lets
   * in (`letIn`) once it has given it an instance: until then its slot still looks free.
   */
  shift(): Waiter | undefined {
    const w = this.waiting.shift();
    if (w) {
      this.bytes -= w.frame.body?.byteLength ?? 0;
      clearTimeout(w.timer);
    }
    return w;
  }

  /** Requests waiting for room get it, first come first, while there is room (call when room appears). */
  letIn(): void {
    while (this.hopeful.length > 0 && this.hasRoom()) this.letInOne(this.hopeful.shift()!);
  }

  /** Every waiting request fails with `err` (the pool is stopping or cannot start). */
  rejectAll(err: LanesError): void {
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.bytes = 0;
    for (const h of this.hopeful.splice(0)) this.letInOne(h); // they go on to dispatch, which answers with the pool's own error
    clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
  }
}
