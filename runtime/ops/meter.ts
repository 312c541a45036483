/**
 * The figures of one function version (function, lane, runtime, version) that change per
 * request or per instance event: counted here as plain numbers, read at scrape time by
 * metrics.ts. The host binds one meter per function version when it builds it, so a request
 * costs one array increment and one bucket observation, and no label set is built per request.
 */
import { Buckets, REQUEST_BOUNDS_MS, START_BOUNDS_MS } from "./buckets.ts";

export type MeterLabels = Record<"function" | "lane" | "runtime" | "version", string>;

/** Why an instance ended other than by the host's normal stop (see instanceCause in pool/exit.ts). */
export type EndCause = string;

/** What the pool reports as it runs (PoolDeps.observer). */
export interface PoolObserver {
  /** An instance is ready, `ms` after it was spawned. */
  started(ms: number): void;
  startFailed(): void;
  /** A request refused with 503 because the function is at capacity. */
  shed(): void;
  /** A request answered 504. */
  timedOut(): void;
  /** A ready instance ended for `cause`; `crashed`: it died on its own (not stopped by the host). */
  lost(cause: EndCause, crashed: boolean): void;
}

export class FunctionMeter implements PoolObserver {
  /** Answers by HTTP status code (index); 0 holds codes out of range. */
  readonly statuses = new Float64Array(600);
  readonly duration = new Buckets(REQUEST_BOUNDS_MS);
  readonly startup = new Buckets(START_BOUNDS_MS);
  startFailures = 0;
  shedCount = 0;
  timeouts = 0;
  readonly restarts = new Map<EndCause, number>();
  readonly crashes = new Map<EndCause, number>();

  constructor(readonly labels: MeterLabels) {}

  /** One answered request: its status and the time to its response head. */
  record(status: number, ms: number): void {
    this.statuses[status >= 100 && status < 600 ? status : 0]!++;
    this.duration.observe(ms);
  }

  started(ms: number): void {
    this.startup.observe(ms);
  }

  startFailed(): void {
    this.startFailures++;
  }

  shed(): void {
    this.shedCount++;
  }

  timedOut(): void {
    this.timeouts++;
  }

  lost(cause: EndCause, crashed: boolean): void {
    this.restarts.set(cause, (this.restarts.get(cause) ?? 0) + 1);
    if (crashed) this.crashes.set(cause, (this.crashes.get(cause) ?? 0) + 1);
  }
}
