/**
 * Chaos, part 4: hostile load and hostile input. A flood of connections far past capacity
 * keeps being served and is refused with 503 + Retry-After; a body dribbled a byte at a time
 * gets 408 within timeoutMs; methods the host does not relay are 405 on every host; HEAD gets
 * its Content-Length; a broken module is reported by /_lanes/functions and never leaks a
 * host path (memory limits: memory-watchdog.test.ts). Host on Node, Bun and Deno, both lanes
 * where a lane is involved.
 */
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { spawnProcess } from "./helpers/spawn.ts";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { expectError, expectJson, measure, poolOf, waitFor } from "./helpers/chaos.ts";
import { adapter, inBothLanes, LANES, startLaneHosts, type Lane, type TestHost } from "./helpers/host.ts";
import { dripAfterAnswer, KeptConnection, rawRequest, type RawAnswer } from "./helpers/raw-http.ts";
import { SERVED_METHODS } from "../runtime/host/methods.ts";

// One host per lane. The floods go one lane after the other; every other test runs in both lanes
// at once: they mostly wait on the host's timers (a slot held 2.5 s, a 408 at timeoutMs).
const test = suite<{ hosts: Record<Lane, TestHost> }>(`chaos (${adapter.name} host): hostile load and input`);

test.before(async (ctx) => {
  ctx.hosts = await startLaneHosts(
    (lane) => {
      const fn = (entry: string, extra: Record<string, unknown> = {}) => ({ entry, lane, ...extra });
      return {
        // 2 instances x 8 in flight and a queue of 16, under 2000 connections: most are refused.
        // (With 64 each, a full run on a 2-core VM refused none: a load generator short of CPU
        // keeps far fewer than 2000 requests out at once, and all 5555 got a 200.)
        // (timeoutMs: the flood test holds every slot from before autocannon starts, which took
        // 14 s on a busy VM, until its own requests during the flood are answered)
        hello: fn("chaos-fault.ts", { instances: { min: 2, max: 2 }, concurrency: 8, queue: 16, shared: "flood", timeoutMs: 120_000 }),
        // ends the hold of hello's ?do=hold requests (same `shared` group), while hello is full
        release: fn("chaos-fault.ts", { shared: "flood" }),
        // one request at a time, timeoutMs 4000: no request should wait in its queue past a second
        single: fn("chaos-fault.ts", { instances: { min: 1, max: 1 }, concurrency: 1, timeoutMs: 4000 }),
        slowbody: fn("echo.ts", { timeoutMs: 1200, instances: { min: 1, max: 1 } }),
        getonly: fn("status.ts", { route: "/getonly/:code", methods: ["GET"] }),
        broken: fn("broken-import.ts"),
        syntax: fn("syntax-error.ts"),
      };
    },
    { extraFiles: { "syntax-error.ts": 'export default { fetch() { return new Response("never" } };\n' } },
  );
});
test.after(async ({ hosts }) => {
  await Promise.all(Object.values(hosts ?? {}).map((h) => h.stop()));
});
/** A test run in both lanes at once. */
const laneTest = (name: string, body: (h: TestHost, lane: Lane) => Promise<void>) => test(name, ({ hosts }) => inBothLanes(hosts, body));

for (const lane of LANES) {
  test(`${lane} lane: 2000 connections far past capacity keep being served, and every refusal is a 503 with Retry-After`, async ({ hosts }) => {
    const h = hosts[lane];
    const served = h.host.functions.find((f) => f.spec.name === "hello")!;
    const pool = served.pool!;
    // Requests of ours sent while hello is provably full, to read what a refused client gets.
    // Sent every 100 ms through the flood instead, they often all got in while it had thousands
    // refused: on a busy 2-core VM its busiest second saw one or two rounds of them (answers came
    // a second late; a new connection waited out dropped SYNs, 1 s, 3 s or more), and its
    // refusals come in waves (a thousand requests read at once, refused together when their
    // grace ends), between which one who arrives is first in line for the next room. So requests
    // of ours hold every slot of both instances and fill the queue, and nothing leaves until we
    // end the hold: no grace can find room then, for the flood or for us. Ours go on connections
    // opened before the flood.
    const kept = await Promise.all(Array.from({ length: 11 }, () => KeptConnection.open(h.url, "GET /getonly/200")));
    const held = Array.from({ length: 32 }, () => h.fetch("/hello?do=hold"));
    await waitFor(() => pool.queued === 16 && pool.instances.every((i) => i.inflight === 8), "our requests hold every slot and the queue");
    const flood = startFlood(`${h.url}/hello`, 2000);
    let probes: RawAnswer[];
    let result: FloodResult;
    try {
      // the flood is here: a hundred of its requests wait for room (autocannon's own start takes
      // a second or more on a busy machine)
      await waitFor(
        () => served.active >= 32 + 100,
        () => `${served.active - 32} of the flood's requests wait for room`,
        60_000,
      );
      probes = await Promise.all(kept.slice(1).map((c) => c.request("GET /hello")));
      assert.is((await kept[0]!.request("GET /release?do=release")).status, 200);
      for (const r of await Promise.all(held)) assert.is(r.status, 200, await r.text());
      // the function keeps answering the flood once there is room: a hundred of its requests
      // (how many it keeps of the calm rate is a speed figure: loadtest/overload.ts measures it)
      const handled = pool.handled;
      await waitFor(
        () => pool.handled >= handled + 100,
        () => `${pool.handled - handled} of the flood's requests served after the hold`,
        60_000,
      );
      result = await flood.stop();
    } finally {
      flood.end();
      for (const c of kept) c.close();
    }
    const count = (status: string) => result.statusCodeStats[status]?.count ?? 0;
    measure(`${adapter.name}/${lane} flood`, `${count("200")} served and ${count("503")} refused in ${result.duration} s at 2000 connections, p99 ${result.latency.p99} ms`);
    assert.equal(
      Object.keys(result.statusCodeStats).filter((s) => s !== "200" && s !== "503"),
      [],
      JSON.stringify(result.statusCodeStats),
    );
    assert.is(result.errors + result.timeouts, 0, "connection errors or timeouts");
    assert.ok(count("200") > 0, `no request was served during the flood: ${JSON.stringify(result.statusCodeStats)}`);
    assert.ok(count("503") > 0, `nothing was refused: ${JSON.stringify(result.statusCodeStats)}`);
    assert.ok(
      probes.some((r) => r.status === 503),
      `none of our ${probes.length} requests during the flood was refused: ${probes.map((r) => r.status).join(",")}`,
    );
    for (const r of probes) {
      assert.is(r.status, 503, r.body);
      assert.is(JSON.parse(r.body).error.code, "overloaded");
      assert.equal(
        r.headers.filter(([k]) => k === "retry-after"),
        [["retry-after", "1"]],
      );
    }
    await expectJson(h.fetch("/hello"));
  });
}

laneTest("a queue whose oldest request has waited past a second (or half timeoutMs) refuses new requests at once, and serves again once it drains", async (h) => {
  // Ordered by what the host reports, not by the test's clock, so a loaded machine cannot
  // reorder it: timeoutMs 4000 makes the bound a second, the one slot is held 2.5 s, and the
  // waiting request is still served well within its deadline.
  const pool = poolOf(h, "single");
  const HOLD_MS = 2500;
  let busyAnsweredAt = Number.POSITIVE_INFINITY;
  const busy = h.fetch(`/single?do=sleep&ms=${HOLD_MS}`).then((r) => {
    busyAnsweredAt = Date.now();
    return r;
  });
  await waitFor(() => pool.instances.some((i) => i.inflight === 1), "the slow request runs");
  const waiting = h.fetch("/single"); // waits in the queue
  await waitFor(() => pool.queued === 1, "the second request is queued");
  const queuedAt = Date.now();
  await new Promise((r) => setTimeout(r, 1200)); // now it has waited past the 1 s bound
  const t0 = Date.now();
  const refused = await h.fetch("/single");
  const refusedAt = Date.now();
  assert.ok(t0 - queuedAt < HOLD_MS - 500, `the test fell behind: asked ${t0 - queuedAt} ms after queueing, the slot frees at ${HOLD_MS}`);
  assert.is(refused.status, 503, await refused.clone().text());
  assert.is(((await refused.json()) as { error: { code: string } }).error.code, "overloaded");
  assert.is(refused.headers.get("retry-after"), "1");
  // at once (after a grace of 30 ms, queue.ts): before the slot frees, at least 500 ms after it
  // was asked, and well within that. A Node host beside another suite took 450 ms once, so the
  // bound is a second (a refusal that waits for room as long as that is wrong, whatever the load)
  const refusedMs = refusedAt - t0;
  assert.ok(refusedAt < busyAnsweredAt, `the refusal came ${refusedMs} ms after it was asked, after the slot freed (${busyAnsweredAt - t0} ms)`);
  assert.ok(refusedMs < 1000, `the refusal took ${refusedMs} ms`);
  // what was let in is served: the waiting request runs once the slot frees, within its deadline
  await expectJson(busy);
  await expectJson(waiting);
  await expectJson(h.fetch("/single"));
});

laneTest("a body sent a byte at a time gets 408 within about timeoutMs, and the function serves the next request", async (h, lane) => {
  const logged = h.logs.length;
  // the answer is timed, and then the close: a host that keeps reading the drip after its 408
  // (a Deno host did, in about half the cases, until the client gave up; ../adapters/README.md,
  // Serving HTTP) lets such a client hold a connection
  const r = await dripAfterAnswer(h.url, "/slowbody", { declared: 1000, first: 0, everyMs: 200, giveUpMs: 6000, chunked: false });
  measure(`${adapter.name}/${lane} 408 after`, `${r.answeredMs} ms (timeoutMs 1200), closed ${r.closedMs} ms later`);
  assert.match(r.response, /^HTTP\/1\.1 408/, r.response.slice(0, 200));
  assert.match(r.response, /"request_timeout"/);
  assert.ok(r.answeredMs < 4000, `the 408 came after ${r.answeredMs} ms`);
  // at once, or at the drip's next byte (a Deno host: its last read is still pending)
  assert.ok(r.closedMs < 2000, `the connection stayed open ${Number.isNaN(r.closedMs) ? "until the client gave up" : `${r.closedMs} ms`} after the 408`);
  const res = await h.fetch("/slowbody", { method: "POST", body: "now quick" });
  // (a Node host's process lane answered this once with a 504 at timeoutMs: what the host said then)
  const text = await res.text();
  assert.ok(text === "now quick", `${res.status} ${text.slice(0, 300)}\nhost log since the test began:\n${h.logs.slice(logged).join("\n")}`);
});

laneTest("an upload that ends short of its Content-Length, or mid-chunk, answers 400, never a 500 internal error; the function serves on", async (h) => {
  const { port } = new URL(h.url);
  for (const head of ["Content-Length: 900\r\n\r\n0123456789", "Transfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n"]) {
    // the client half-closes: the rest of its body never comes
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(Number(port), "127.0.0.1");
      let got = "";
      socket.on("data", (d) => (got += d.toString("latin1")));
      socket.on("close", () => resolve(got));
      socket.on("error", () => {});
      setTimeout(() => socket.destroy(), 5000).unref();
      socket.end(`POST /slowbody HTTP/1.1\r\nHost: x\r\n${head}`);
    });
    assert.match(answer, /^HTTP\/1\.1 400 /, `${head.split("\r")[0]}: ${answer.slice(0, 300)}`);
    assert.not.match(answer, /"internal"/);
  }
  const res = await h.fetch("/slowbody", { method: "POST", body: "whole" });
  assert.is(await res.text(), "whole");
});

const EVERY_OTHER = [...SERVED_METHODS]
  .filter((m) => !["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"].includes(m))
  .sort()
  .join(", ");

laneTest("TRACE, CONNECT and a method the route does not allow are 405 from the host, with Allow, and no function error", async (h) => {
  const before = h.logs.length;
  for (const [path, method] of [
    ["/hello", "TRACE"],
    ["/hello", "CONNECT"],
    ["/getonly/200", "CONNECT"],
    ["/getonly/200", "DELETE"],
  ] as const) {
    // (no `Connection: close`: after a CONNECT the host closes the connection by itself)
    const res = await rawRequest(h.url, `${method} ${path} HTTP/1.1\r\nHost: x\r\n${method === "CONNECT" ? "" : "Connection: close\r\n"}\r\n`);
    if (method === "CONNECT" && adapter.name === "deno") {
      // Deno.serve answers a CONNECT to a path itself, before lanes sees it
      assert.match(res, /^HTTP\/1\.1 400/, res.slice(0, 200));
      continue;
    }
    assert.match(res, /^HTTP\/1\.1 405/, `${method} ${path}: ${res.slice(0, 200)}`);
    assert.match(res, /"method_not_allowed"/);
    if (method === "CONNECT") assert.match(res, /\r\nconnection: close\r\n/i);
    if (path === "/getonly/200") assert.match(res, /\r\nallow: GET, HEAD\r\n/i);
    // a route with no method list takes every method a host relays: the seven a manifest lists, then the rest
    else assert.ok(res.includes(`\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, ${EVERY_OTHER}\r\n`), res.slice(0, 600));
  }
  assert.equal(
    h.logs.slice(before).filter((l) => /function_error|threw/.test(l)),
    [],
  );
});

laneTest("a CONNECT to host:port is a 400 from the host that names the target", async (h) => {
  const res = await rawRequest(h.url, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n");
  assert.match(res, /^HTTP\/1\.1 400/, res.slice(0, 200));
  assert.match(res, /"bad_request"/);
  assert.match(res, /the request target must be a path \(got \\"example\.com:443\\"\)/);
});

laneTest("HEAD answers with the Content-Length a GET would have and no body", async (h) => {
  const get = await h.fetch("/getonly/201");
  const body = await get.text();
  const head = await rawRequest(h.url, `HEAD /getonly/201 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  assert.match(head, /^HTTP\/1\.1 201/);
  assert.match(head, new RegExp(`\\r\\ncontent-length: ${new TextEncoder().encode(body).length}\\r\\n`, "i"));
  assert.ok(head.endsWith("\r\n\r\n"), `a body came with the HEAD answer: ${JSON.stringify(head.slice(-40))}`);
});

laneTest("a module that throws at import is reported broken, with why, by /_lanes/functions", async (h) => {
  const broken = await h.host.checked;
  assert.equal(broken.map((f) => f.spec.name).sort(), ["broken", "syntax"]);
  const { functions } = await expectJson<{ functions: { name: string; status: string; error?: string }[] }>(h.fetch("/_lanes/functions"));
  const b = functions.find((f) => f.name === "broken")!;
  assert.is(b.status, "broken");
  assert.match(b.error ?? "", /broken at import time/);
  assert.is(functions.find((f) => f.name === "hello")!.status, "ok");
});

laneTest("the 503 of a function that does not compile or load shows clients no host path", async (h) => {
  for (const name of ["syntax", "broken"]) {
    const err = await expectError(await h.fetch(`/${name}`), 503, "unavailable");
    assert.not.match(err.message, /\/(work|tmp|home|root|usr)\//, err.message);
    assert.not.match(err.message, /\.lanes|test-tmp|fns-/, err.message);
  }
});

test.run();

interface FloodResult {
  statusCodeStats: Record<string, { count: number }>;
  errors: number;
  timeouts: number;
  duration: number;
  latency: { p99: number };
}

/** autocannon with `connections` against `url`, in a process of its own, until stop() (its summary) or end() (at most a minute). */
function startFlood(url: string, connections: number): { stop(): Promise<FloodResult>; end(): void } {
  const child = spawnProcess("node", [fileURLToPath(new URL("./helpers/flood.mjs", import.meta.url)), url, String(connections), "60"]);
  let out = "";
  child.onOutput((t) => (out += t));
  return {
    async stop() {
      child.kill("SIGINT");
      const exit = await child.exited;
      const json = out.slice(out.indexOf("{"), out.lastIndexOf("}") + 1);
      if (exit.code !== 0 || !json) throw new Error(`the flood exited with ${exit.code}: ${out.slice(-500)}`);
      return JSON.parse(json) as FloodResult;
    },
    end: () => child.kill("SIGKILL"),
  };
}
