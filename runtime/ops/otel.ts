/**
 * Optional OpenTelemetry export: one server span per request, sent to an OTLP/HTTP endpoint by
 * the official SDK (@opentelemetry/sdk-trace with the OTLP/HTTP JSON exporter, batched). Off
 * unless `--otlp-endpoint` is given; the SDK is imported only then, so a host without it loads
 * none of it. Checked on Node, Bun and Deno hosts (test/tracing.test.ts).
 *
 * The span ids are lanes' own: the span a function's request header names as its parent (see
 * trace.ts) must be the one exported, so the SDK's id generator hands out the ids of the request
 * being recorded.
 */
import type { SpanExporter } from "@opentelemetry/sdk-trace";
import type { Trace } from "./trace.ts";

export interface SpanRecord {
  trace: Trace;
  method: string;
  path: string;
  /** The function's route template, e.g. /users/:id; undefined when no function matched. */
  route: string | undefined;
  status: number;
  /** Start, ms since the epoch. */
  startMs: number;
  durationMs: number;
  requestId: string;
  labels?: { function: string; lane: string; runtime: string; version: string };
}

export interface SpanExport {
  readonly endpoint: string;
  record(r: SpanRecord): void;
  /** Send what is buffered and stop. */
  shutdown(): Promise<void>;
}

/** `endpoint`: the OTLP/HTTP base URL (e.g. http://collector:4318); spans go to its /v1/traces. */
export async function startSpanExport(endpoint: string, host: { runtime: string; version: string }, warn: (msg: string) => void): Promise<SpanExport> {
  const [{ TracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, api] = await Promise.all([
    import("@opentelemetry/sdk-trace"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/api"),
  ]);
  const url = `${endpoint.replace(/\/+$/, "")}/v1/traces`;
  const next = { traceId: "", spanId: "" };
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      "service.name": "lanes",
      "process.runtime.name": host.runtime,
      "process.runtime.version": host.version,
    }),
    idGenerator: { generateTraceId: () => next.traceId, generateSpanId: () => next.spanId },
    spanProcessors: [new BatchSpanProcessor({ exporter: saying(new OTLPTraceExporter({ url }), url, warn) })],
  });
  const tracer = provider.getTracer("lanes");
  return {
    endpoint: url,
    record(r) {
      const { trace } = r;
      next.traceId = trace.traceId;
      next.spanId = trace.parentId;
      const parent = trace.callerSpanId
        ? api.trace.setSpanContext(api.ROOT_CONTEXT, {
            traceId: trace.traceId,
            spanId: trace.callerSpanId,
            traceFlags: trace.flags === "01" ? api.TraceFlags.SAMPLED : api.TraceFlags.NONE,
            isRemote: true,
          })
        : api.ROOT_CONTEXT;
      const span = tracer.startSpan(
        r.route ? `${r.method} ${r.route}` : r.method,
        {
          kind: api.SpanKind.SERVER,
          startTime: r.startMs,
          attributes: {
            "http.request.method": r.method,
            "url.path": r.path,
            ...(r.route ? { "http.route": r.route } : {}),
            "http.response.status_code": r.status,
            "lanes.request_id": r.requestId,
            ...(r.labels ? { "lanes.function": r.labels.function, "lanes.lane": r.labels.lane, "lanes.runtime": r.labels.runtime, "lanes.version": r.labels.version } : {}),
          },
        },
        parent,
      );
      if (r.status >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR });
      span.end(r.startMs + r.durationMs);
    },
    async shutdown() {
      await provider.shutdown();
    },
  };
}

/**
 * The exporter, saying in the host's log when sending fails (once, until it works again): the
 * SDK drops a batch it cannot send without a word, so a collector that was down or mistyped left
 * the operator sure that spans were going out.
 */
function saying(exporter: SpanExporter, url: string, warn: (msg: string) => void): SpanExporter {
  let failing = false;
  return {
    export(spans, done) {
      exporter.export(spans, (result) => {
        const ok = result.code === 0; // ExportResultCode.SUCCESS
        if (!ok && !failing) warn(`OpenTelemetry export to ${url} failed (${result.error?.message ?? "no reason given"}): spans are dropped until it works again`);
        if (ok && failing) warn(`OpenTelemetry export to ${url} works again`);
        failing = !ok;
        done(result);
      });
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}
