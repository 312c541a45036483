/**
 * W3C trace context: a valid incoming traceparent reaches the function as it came, an absent or
 * invalid one is replaced by a new trace, the function sees it in ctx and in its headers, the
 * access log names it; with an OTLP endpoint the host exports a server span per request through
 * the OpenTelemetry SDK, and the function's parent is that span.
 */
import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { requestLogger } from "../runtime/host/request-log.ts";
import { parseTraceparent } from "../runtime/ops/trace.ts";
import { adapter, LANES, startTestHost, type TestHost } from "./helpers/host.ts";

const INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const VALID = /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/;
const fns = Object.fromEntries(LANES.map((lane) => [lane, { entry: "trace.ts", lane }]));
let plain: TestHost;

test.before(async () => {
  plain = await startTestHost(fns);
});
test.after(async () => {
  await plain?.stop();
});

interface Seen {
  ctx: string;
  header: string | null;
  requestId: string;
}
/** The same over a raw connection, each traceparent its own header line (fetch joins them into one). */
const rawAsk = (h: TestHost, lane: string, traceparents: string[]): Promise<Seen> =>
  new Promise((resolve, reject) => {
    const url = new URL(h.url);
    const sock = connect(Number(url.port), url.hostname);
    let got = "";
    sock.on("data", (d: Buffer) => (got += d.toString("utf8")));
    sock.on("error", reject);
    sock.on("close", () => resolve(JSON.parse(got.slice(got.indexOf("\r\n\r\n") + 4).replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, "")) as Seen));
    sock.write(`GET /${lane} HTTP/1.1\r\nhost: ${url.host}\r\n${traceparents.map((t) => `traceparent: ${t}\r\n`).join("")}connection: close\r\n\r\n`);
  });
const ask = async (h: TestHost, lane: string, traceparent?: string): Promise<Seen> =>
  (await h.fetch(`/${lane}`, traceparent === undefined ? {} : { headers: { traceparent } })).json() as Promise<Seen>;

for (const lane of LANES) {
  test(`${lane} lane on ${adapter.name}: a valid incoming traceparent reaches the function unchanged, in ctx and in its headers`, async () => {
    const seen = await ask(plain, lane, INCOMING);
    assert.is(seen.ctx, INCOMING);
    assert.is(seen.header, INCOMING);
  });

  test(`${lane} lane: without a traceparent the host starts a trace whose id is the request id`, async () => {
    const seen = await ask(plain, lane);
    assert.match(seen.ctx, VALID);
    assert.is(seen.header, seen.ctx);
    assert.is(parseTraceparent(seen.ctx)!.traceId, seen.requestId.replace(/-/g, ""));
  });

  test(`${lane} lane: a traceparent sent twice is replaced by a new trace, and a later version than 00 reaches the function as 00`, async () => {
    const other = "00-11111111111111111111111111111111-2222222222222222-01";
    const twice = await rawAsk(plain, lane, [INCOMING, other]);
    assert.match(twice.ctx, VALID);
    assert.ok(twice.ctx !== INCOMING && twice.ctx !== other, twice.ctx);
    assert.is(twice.header, twice.ctx, "the function's header holds one valid value");
    const later = await ask(plain, lane, "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more");
    assert.is(later.ctx, INCOMING);
    assert.is(later.header, INCOMING);
  });

  test(`${lane} lane: an invalid traceparent is replaced by a new trace`, async () => {
    for (const bad of ["ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", `00-${"0".repeat(32)}-00f067aa0ba902b7-01`, "00-4bf92f35-00f067aa0ba902b7-01", "garbage"]) {
      const seen = await ask(plain, lane, bad);
      assert.match(seen.ctx, VALID, bad);
      assert.is.not(seen.ctx, bad);
      assert.is(seen.header, seen.ctx);
    }
  });
}

test("the access log names the traceparent the function got", () => {
  const lines: string[] = [];
  const log = requestLogger({ format: "json", color: false, write: (l) => void lines.push(l) });
  log({ method: "GET", path: "/x", fn: "x", lane: "isolate", status: 200, ms: 1.234, requestId: "r", version: "v", traceparent: INCOMING });
  const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.is(entry.traceparent, INCOMING);
  assert.is(entry.kind, "access");
});

/** An OTLP/HTTP receiver on 127.0.0.1: the JSON bodies it got on /v1/traces. */
async function receiver(): Promise<{ url: string; bodies: unknown[]; server: Server }> {
  const bodies: unknown[] = [];
  const server = createServer((req, res) => {
    const chunks: Uint8Array[] = [];
    req.on("data", (c: Uint8Array) => chunks.push(c));
    req.on("end", () => {
      if (req.url === "/v1/traces") bodies.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address() as { port: number };
  return { url: `http://127.0.0.1:${addr.port}`, bodies, server };
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: number | string } }[];
}

test(`with --otlp-endpoint the host exports a server span per request; the function's parent is that span (${adapter.name} host)`, async () => {
  const r = await receiver();
  const h = await startTestHost(fns, { otlpEndpoint: r.url });
  try {
    const seen = await Promise.all(LANES.map((lane) => ask(h, lane, INCOMING)));
    const fresh = await ask(h, "isolate");
    const nowhere = await h.fetch("/nowhere", { headers: { traceparent: INCOMING } });
    await nowhere.arrayBuffer();
    assert.is(nowhere.status, 404);
    await h.host.stop(2000); // flushes the batch
    const spans = r.bodies.flatMap((b) => (b as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] }).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans)));
    for (const [i, lane] of LANES.entries()) {
      const got = parseTraceparent(seen[i]!.ctx)!;
      assert.is(got.traceId, "4bf92f3577b34da6a3ce929d0e0e4736", "the trace is kept");
      const span = spans.find((s) => s.spanId === got.parentId);
      assert.ok(span, `a span with the id the ${lane} function got as its parent`);
      assert.is(span!.traceId, got.traceId);
      assert.is(span!.parentSpanId, "00f067aa0ba902b7", "the host's span hangs under the caller's");
      assert.is(span!.name, `GET /${lane}`);
      assert.is(span!.kind, 2, "SPAN_KIND_SERVER");
      const attr = (k: string) => span!.attributes.find((a) => a.key === k)?.value;
      assert.is(attr("lanes.function")?.stringValue, lane);
      assert.is(Number(attr("http.response.status_code")?.intValue), 200);
    }
    const root = parseTraceparent(fresh.ctx)!;
    assert.is(root.flags, "01", "a trace the host starts while exporting is sampled");
    assert.ok(
      spans.some((s) => s.spanId === root.parentId && s.traceId === root.traceId && !s.parentSpanId),
      "a new trace's root span is the host's",
    );
    // a request no function was routed to: the host's span under the caller's, with an id of its own
    const unrouted = spans.filter((s) => s.attributes.some((a) => a.key === "url.path" && a.value.stringValue === "/nowhere"));
    assert.is(unrouted.length, 1);
    assert.is(unrouted[0]!.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert.is(unrouted[0]!.parentSpanId, "00f067aa0ba902b7");
    assert.is.not(unrouted[0]!.spanId, "00f067aa0ba902b7", "not its own parent");
    assert.match(unrouted[0]!.spanId, /^[0-9a-f]{16}$/);
  } finally {
    await h.stop();
    // and the exporter's idle keep-alive connection with it, which can keep the process alive
    // (a Bun run of this file once outlived its last test until the runner's 180 s timeout)
    r.server.close();
    r.server.closeAllConnections();
  }
});

test(`a collector that refuses the spans is named in the host's log, once (${adapter.name} host)`, async () => {
  let posts = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      posts++;
      res.writeHead(400, { "content-type": "application/json" }).end('{"message":"not a collector"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const h = await startTestHost(fns, { otlpEndpoint: url });
  try {
    await ask(h, "isolate");
    await ask(h, "process");
    // while the host serves, not only as it stops: the SDK sends its batch within 5 s
    const said = () => h.logs.filter((l) => l.includes("OpenTelemetry export"));
    for (const end = Date.now() + 10_000; said().length === 0 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
    assert.ok(posts >= 1, "the spans were sent");
    await ask(h, "isolate");
    assert.is(said().length, 1, h.logs.join(""));
    assert.match(said()[0]!, `OpenTelemetry export to ${url}/v1/traces failed`);
    assert.match(said()[0]!, "spans are dropped until it works again");
  } finally {
    await h.stop();
    server.close();
    server.closeAllConnections();
  }
});

test.run();
