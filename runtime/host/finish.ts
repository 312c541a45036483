/**
 * What happens once a request's answer is known: its meter counts it, the console's feed keeps
 * it (when the console is on), the access log writes its line, and the span exporter records it.
 * The meter is all a request pays for when the console, the access log and the exporter are off.
 */
import type { Exchange } from "../../adapters/types.ts";
import type { HostMetrics } from "../ops/metrics.ts";
import type { SpanExport } from "../ops/otel.ts";
import { formatTraceparent, parseTraceparent, randomSpanId, type Trace } from "../ops/trace.ts";
import type { RequestLog, Served } from "./served.ts";

export interface RequestOps {
  metrics?: HostMetrics;
  /** The access log. */
  onRequest?: (entry: RequestLog) => void;
  spans?: SpanExport;
  /** With a deploy store: the version these functions belong to, named in every answer and log line. */
  version?: string;
}

/** A request a function answered (whatever the status). */
export function finished(o: RequestOps, served: Served, method: string, path: string, requestId: string, trace: Trace, t0: number, status: number): void {
  const ms = performance.now() - t0;
  served.meter?.record(status, ms);
  served.recent?.record(method, path, status, ms, requestId, o.version ?? served.meter?.labels.version ?? served.version);
  if (o.onRequest) {
    const { spec } = served;
    o.onRequest({
      method,
      path,
      fn: spec.name,
      lane: spec.lane,
      status,
      ms,
      requestId,
      version: o.version ?? served.meter?.labels.version ?? served.version,
      traceparent: formatTraceparent(trace),
    });
  }
  if (o.spans) {
    const labels = served.meter?.labels ?? { function: served.spec.name, lane: served.spec.lane, runtime: served.spec.runtime, version: served.version };
    o.spans.record({ trace, method, path, route: served.spec.route, status, startMs: performance.timeOrigin + t0, durationMs: ms, requestId, labels });
  }
}

/** A request no function answered: no route, a method not allowed, a malformed request. */
export function unrouted(o: RequestOps, ex: Exchange, path: string, requestId: string, t0: number, status: number): void {
  const ms = performance.now() - t0;
  if (o.metrics?.perRequest) o.metrics.unrouted[status >= 100 && status < 600 ? status : 0]!++;
  if (!o.onRequest && !o.spans) return;
  const incoming = ex.header("traceparent");
  const trace = incoming ? parseTraceparent(incoming) : undefined;
  // the host's span needs an id of its own: the caller's as its id too made a span its own parent
  if (trace && o.spans) trace.parentId = randomSpanId();
  o.onRequest?.({
    method: ex.method,
    path,
    fn: undefined,
    lane: undefined,
    status,
    ms,
    requestId,
    ...(o.version ? { version: o.version } : {}),
    ...(trace ? { traceparent: formatTraceparent(trace) } : {}),
  });
  if (o.spans && trace) o.spans.record({ trace, method: ex.method, path, route: undefined, status, startMs: performance.timeOrigin + t0, durationMs: ms, requestId });
}
