/**
 * /_lanes/metrics in the Prometheus text format, with prom-client's registry: it writes the
 * HELP/TYPE lines, escapes label values and sets the content type. Figures that change per
 * request or per instance event are counted in each function version's FunctionMeter (meter.ts:
 * plain numbers, no label set built per request); everything else (instances by state, queue,
 * in flight, memory, ctx.shared, the host process) is read when Prometheus scrapes, in collect
 * callbacks, so serving a request pays nothing for it.
 */
import { Counter, Gauge, Registry } from "prom-client";
import { printable } from "../host/request-log.ts";
import type { Served } from "../host/served.ts";
import { hostBuffers } from "../channel/buffer-pool.ts";
import { memoryLimit } from "../pool/watchdog.ts";
import type { SharedStore } from "../shared/store.ts";
import type { Buckets } from "./buckets.ts";
import { sampleLoopDelay, type LoopDelay } from "./loop-delay.ts";
import { FunctionMeter, type MeterLabels } from "./meter.ts";

export interface MetricsSource {
  /** The function versions served now. */
  functions(): Served[];
  /** ctx.shared stores by group name. */
  stores(): ReadonlyMap<string, SharedStore>;
  runtime: string;
  version: string;
  rss(): number;
  cpu(): { user: number; system: number };
}

const FN = ["function", "lane", "runtime", "version"] as const;
type FnLabels = Record<(typeof FN)[number], string>;
const STATES = ["starting", "ready", "retiring"] as const;
const MB = 1024 * 1024;
/** Longer than any version takes to build (a start is given up after 30 s, tried twice). */
const BUILDING_MS = 5 * 60_000;

export class HostMetrics {
  readonly registry = new Registry();
  private readonly meters = new Map<string, FunctionMeter>();
  /** When each meter was made: one whose version is still being built is kept (BUILDING_MS). */
  private readonly made = new WeakMap<FunctionMeter, number>();
  private sweptAt = 0;
  /** Answers to requests no function was routed to (404, 405, a malformed request), by status. */
  readonly unrouted = new Float64Array(600);
  private readonly loop: LoopDelay = sampleLoopDelay();
  private readonly startedAt = Date.now() / 1000;

  /** `perRequest` false: no meters (`--no-metrics`); instance and host figures stay. */
  constructor(
    private readonly src: MetricsSource,
    readonly perRequest = true,
    private readonly clock: () => number = Date.now,
  ) {
    this.define();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The meter of one function version, made once when the host builds it; undefined when metrics are off. */
  meterFor(labels: MeterLabels): FunctionMeter | undefined {
    if (!this.perRequest) return undefined;
    const key = `${labels.function}\0${labels.lane}\0${labels.runtime}\0${labels.version}`;
    let m = this.meters.get(key);
    if (!m) {
      // a host that is never scraped swept no meter: each deploy's were kept for good. Once a
      // minute at most: a deploy of 2,000 functions makes 2,000 meters, and each sweep reads all
      if (this.clock() - this.sweptAt >= 60_000) this.sweep();
      this.meters.set(key, (m = new FunctionMeter({ ...labels })));
      this.made.set(m, this.clock());
    }
    return m;
  }

  text(): Promise<string> {
    this.sweep();
    return this.registry.metrics();
  }

  /** Meters the host holds (those of versions it serves or built in the last BUILDING_MS). */
  get meterCount(): number {
    return this.meters.size;
  }

  /**
   * A version no longer served (replaced by a reload or a deploy) leaves the scrape; its series
   * go stale in Prometheus as a target's do when it restarts. One being built is not served yet,
   * and its meter is the one its requests will count into: a scrape while it loads dropped it,
   * and that version's requests were never counted. Kept until it is old.
   */
  private sweep(): void {
    const [live, now] = [this.live(), this.clock()];
    this.sweptAt = now;
    for (const [key, m] of this.meters) if (!live.has(m) && now - (this.made.get(m) ?? 0) > BUILDING_MS) this.meters.delete(key);
  }

  private live(): Set<FunctionMeter | undefined> {
    return new Set(this.src.functions().map((s) => s.meter));
  }

  stop(): void {
    this.loop.stop();
  }

  private define(): void {
    const registers = [this.registry];
    const meters = () => {
      const live = this.live();
      return [...this.meters.values()].filter((m) => live.has(m));
    };
    const served = () => this.src.functions();
    const counter = (name: string, help: string, labelNames: readonly string[], fill: (c: Counter) => void) =>
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          fill(this);
        },
      });
    const gauge = (name: string, help: string, labelNames: readonly string[], fill: (g: Gauge) => void) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          fill(this);
        },
      });

    counter("lanes_requests_total", "Requests answered by a function, by HTTP status code.", [...FN, "code"], (c) => {
      for (const m of meters()) forStatus(m.statuses, (code, n) => c.inc({ ...m.labels, code }, n));
    });
    this.histogram("lanes_request_duration_seconds", "Time from a request's arrival to its response head, per function.", () => [...meters()].map((m) => [m.labels, m.duration]));
    gauge("lanes_requests_in_flight", "Requests inside the host for a function now: queued, reading their body or running.", FN, (g) => {
      for (const s of served()) g.inc(labelsOf(s), s.active);
    });
    gauge("lanes_queued_requests", "Requests waiting in a function's queue for a free instance (the queue length).", FN, (g) => {
      for (const s of served()) g.inc(labelsOf(s), s.pool?.queued ?? 0);
    });
    counter("lanes_requests_shed_total", "Requests refused with 503 because the function was at capacity.", FN, (c) => {
      for (const m of meters()) c.inc(m.labels, m.shedCount);
    });
    counter("lanes_request_timeouts_total", "Requests that ran past the function's timeoutMs (answered 504).", FN, (c) => {
      for (const m of meters()) c.inc(m.labels, m.timeouts);
    });
    gauge("lanes_instances", "Instances of a function by state: starting, ready (serving), retiring (finishing, then stopped).", [...FN, "state"], (g) => {
      for (const s of served()) {
        const counts = { starting: 0, ready: 0, retiring: 0 };
        for (const i of s.pool?.instances ?? []) if (i.state !== "dead") counts[i.state]++;
        for (const state of STATES) g.inc({ ...labelsOf(s), state }, counts[state]);
      }
    });
    counter("lanes_instance_starts_total", "Instances that started and loaded the function.", FN, (c) => {
      for (const m of meters()) c.inc(m.labels, m.startup.count);
    });
    this.histogram("lanes_instance_start_duration_seconds", "Cold start: from spawning an instance to the function loaded in it.", () =>
      [...meters()].map((m) => [m.labels, m.startup]),
    );
    counter("lanes_instance_start_failures_total", "Instance starts that failed (a bad module, a crash right after starting).", FN, (c) => {
      for (const m of meters()) c.inc(m.labels, m.startFailures);
    });
    counter(
      "lanes_instance_restarts_total",
      "Serving instances replaced, by cause: exit, signal, error, out_of_memory, uncaught_exception (it died), cpu_loop, memory_limit, malformed_frame, shared_flood, channel_closed, unasked_frames, thread_limit (the host stopped it), timeout (retired after a request ran past timeoutMs).",
      [...FN, "cause"],
      (c) => {
        for (const m of meters()) for (const [cause, n] of m.restarts) c.inc({ ...m.labels, cause }, n);
      },
    );
    counter(
      "lanes_instance_crashes_total",
      "Serving instances that died on their own, by cause (exit, signal, error, out_of_memory, uncaught_exception).",
      [...FN, "cause"],
      (c) => {
        for (const m of meters()) for (const [cause, n] of m.crashes) c.inc({ ...m.labels, cause }, n);
      },
    );
    gauge(
      "lanes_instance_memory_bytes",
      "Memory of a function's live instances, summed: each child's resident set in the process lane; each worker's heap plus ArrayBuffers in the isolate lane (a worker shares the host's RSS).",
      FN,
      (g) => {
        for (const s of served()) {
          let bytes = 0;
          for (const i of s.pool?.instances ?? []) {
            if (i.state === "dead") continue;
            bytes += s.spec.lane === "process" ? (i.rss() ?? 0) : i.memory.heap + i.memory.external;
          }
          g.inc(labelsOf(s), bytes);
        }
      },
    );
    gauge("lanes_instance_memory_limit_bytes", "The memory limit of one instance, as enforced (see lanes validate for what this host cannot enforce).", FN, (g) => {
      for (const s of served()) g.set(labelsOf(s), memoryLimit(s.spec).mb * MB);
    });
    gauge("lanes_leaked_threads", "Instances stopped in a CPU loop whose thread kept running (Deno workers); they get no requests.", FN, (g) => {
      for (const s of served()) g.inc(labelsOf(s), s.pool?.leaked ?? 0);
    });
    gauge("lanes_function_info", "A function version the host serves (value 1), with its route and ctx.shared group.", [...FN, "route", "shared_group"], (g) => {
      // control characters percent-encoded as in the access log: prom-client escapes only a backslash, a
      // quote and a newline, and an ESC in a deployed route reached the terminal of whoever curled the scrape
      for (const s of served()) g.set({ ...labelsOf(s), route: printable(s.spec.route), shared_group: s.spec.shared }, 1);
    });
    const stores = (fill: (group: string, st: ReturnType<SharedStore["stats"]>) => void) => {
      for (const [group, store] of this.src.stores()) {
        try {
          fill(group, store.stats());
        } catch {
          // its lock is busy (an instance died holding it and is being recovered): skip this scrape
        }
      }
    };
    gauge("lanes_shared_used_bytes", "Bytes of a ctx.shared store in use (keys and values).", ["shared_group"], (g) =>
      stores((group, st) => g.set({ shared_group: group }, st.bytesUsed)),
    );
    gauge("lanes_shared_size_bytes", "Bytes a ctx.shared store can hold.", ["shared_group"], (g) => stores((group, st) => g.set({ shared_group: group }, st.bytesTotal)));
    gauge("lanes_shared_keys", "Keys in a ctx.shared store.", ["shared_group"], (g) => stores((group, st) => g.set({ shared_group: group }, st.keys)));
    gauge("lanes_shared_key_slots", "Keys a ctx.shared store can hold.", ["shared_group"], (g) => stores((group, st) => g.set({ shared_group: group }, st.slots)));
    counter("lanes_unrouted_requests_total", "Requests no function was routed to (404, 405, a malformed request), by HTTP status code.", ["code"], (c) => {
      forStatus(this.unrouted, (code, n) => c.inc({ code }, n));
    });
    counter("lanes_host_cpu_seconds_total", "CPU time of the host process (its isolate workers included), by mode.", ["mode"], (c) => {
      const { user, system } = this.src.cpu();
      c.inc({ mode: "user" }, user);
      c.inc({ mode: "system" }, system);
    });
    gauge("lanes_host_resident_memory_bytes", "Resident memory of the host process (its isolate workers included).", [], (g) => g.set(this.src.rss()));
    gauge("lanes_host_body_reuse_bytes", "Memory the host keeps to reuse for large bodies (at most 16 MB; let go once the host is quiet).", [], (g) =>
      g.set(hostBuffers.idleBytes),
    );
    this.histogram(
      "lanes_host_event_loop_delay_seconds",
      "How late a timer due every 50 ms fires on the host's main thread: how long a new request may wait for it.",
      () => [[{}, this.loop.delays]],
      [],
    );
    gauge("lanes_host_start_time_seconds", "When the host process started serving, in seconds since the epoch.", [], (g) => g.set(this.startedAt));
    gauge("lanes_host_info", "The host runtime (value 1).", ["runtime", "version"], (g) => g.set({ runtime: this.src.runtime, version: this.src.version }, 1));
  }

  /**
   * A histogram built from Buckets cells at scrape time. prom-client's own Histogram hashes its
   * label set on every observe (1-3 us per request measured: ../../adapters/README.md,
   * "Metrics (host process figures)"), so the registry gets an object with the same `get()` contract as
   * its metrics instead.
   */
  private histogram(name: string, help: string, cells: () => [Record<string, string>, Buckets][], labelNames: readonly string[] = FN): void {
    const metric = {
      name,
      help,
      type: "histogram",
      aggregator: "sum",
      labelNames,
      async get() {
        const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
        for (const [labels, b] of cells()) {
          let cumulative = 0;
          b.bounds.forEach((bound, i) => {
            cumulative += b.counts[i]!;
            values.push({ labels: { ...labels, le: bound / 1000 }, value: cumulative, metricName: `${name}_bucket` });
          });
          values.push({ labels: { ...labels, le: "+Inf" }, value: b.count, metricName: `${name}_bucket` });
          values.push({ labels, value: b.sum / 1000, metricName: `${name}_sum` });
          values.push({ labels, value: b.count, metricName: `${name}_count` });
        }
        return { name, help, type: "histogram", aggregator: "sum", values };
      },
      reset() {},
    };
    this.registry.registerMetric(metric as unknown as Parameters<Registry["registerMetric"]>[0]);
  }
}

/** The labels of a served function version (the same set its meter was made with). */
export function labelsOf(s: Served): FnLabels {
  return s.meter?.labels ?? { function: s.spec.name, lane: s.spec.lane, runtime: s.spec.runtime, version: s.version };
}

function forStatus(counts: Float64Array, each: (code: string, n: number) => void): void {
  for (let i = 0; i < counts.length; i++) if (counts[i]! > 0) each(i === 0 ? "other" : String(i), counts[i]!);
}
