/**
 * Which request methods reach a function, the same on every host: Node's and Bun's HTTP parser
 * reads a fixed list of upper-case methods and refuses the rest with 400; a Deno host relayed
 * any token to the function (`M5X`, `get`, `FOO-BAR`: 200 from the function where the others
 * answered 400). Raw sockets (a fetch client normalises or refuses methods itself), both lanes,
 * host on Node, Bun and Deno (test/run.mjs).
 */
import { METHODS } from "node:http";
import { connect } from "node:net";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { SERVED_METHODS } from "../runtime/host/methods.ts";
import type { RequestLog } from "../runtime/host/served.ts";
import { adapter, LANES, startTestHost, type TestHost } from "./helpers/host.ts";

const test = suite<{ h: TestHost; logged: RequestLog[] }>(`request methods (${adapter.name} host)`);

test.before(async (ctx) => {
  ctx.logged = [];
  ctx.h = await startTestHost(
    {
      ...Object.fromEntries(LANES.map((lane) => [lane, { entry: "bare-echo.ts", route: `/${lane}/*`, lane }])),
      ...Object.fromEntries(LANES.map((lane) => [`${lane}-listed`, { entry: "bare-echo.ts", route: `/listed-${lane}/*`, lane, methods: ["GET", "POST"] }])),
    },
    { onRequest: (entry) => ctx.logged.push(entry) },
  );
});
test.after(async ({ h }) => h?.stop());

interface Raw {
  status: number;
  head: string;
  body: string;
  /** The host closed the connection after the answer (when asked to wait for that). */
  closed: boolean;
}

/** `method path` on a raw connection: the answer, and with `waitClose`, whether the host then closed the connection (within 3 s). */
function rawRequest(base: string, method: string, path: string, waitClose = false): Promise<Raw> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const sock = connect(Number(url.port), url.hostname);
    let raw = "";
    let closed = false;
    const done = () => {
      clearTimeout(giveUp);
      sock.destroy();
      const end = raw.indexOf("\r\n\r\n");
      const head = raw.slice(0, end);
      const length = Number(/^content-length: *(\d+)/im.exec(head)?.[1] ?? 0);
      resolve({ status: Number(raw.slice(9, 12)), head, body: raw.slice(end + 4, end + 4 + length), closed });
    };
    // an answer may come late: a start that goes silent is tried again after 5 s
    // (../adapters/README.md, Workers); a clean clone's GET of a cold function on a Deno host had
    // nothing after 3 s (a worker's ready frame read before the host listened, fixed since).
    // Whether the host then closed: 3 s.
    const giveUp = setTimeout(done, waitClose ? 3000 : 10_000);
    // an answer to HEAD has no content, whatever its Content-Length says (RFC 9110, 9.3.2)
    const whole = () => {
      const end = raw.indexOf("\r\n\r\n");
      return end >= 0 && (method === "HEAD" || raw.length >= end + 4 + Number(/^content-length: *(\d+)/im.exec(raw.slice(0, end))?.[1] ?? 0));
    };
    sock.on("data", (d: Buffer) => {
      raw += d.toString("latin1");
      if (!waitClose && whole()) done();
    });
    sock.on("error", () => {});
    sock.on("close", () => {
      closed = true;
      done();
    });
    sock.write(`${method} ${path} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
  });
}

test("the methods every host serves are Node's http.METHODS, as this runtime's node:http lists them", () => {
  assert.equal([...SERVED_METHODS].sort(), [...METHODS].sort());
});

/** lanes_unrouted_requests_total{code="400"} on the host's metrics. */
async function unrouted400(h: TestHost): Promise<number> {
  const text = await (await h.fetch("/_lanes/metrics")).text();
  return Number(/^lanes_unrouted_requests_total\{code="400"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

test("a method no host's parser reads (M5X, get, FOO-BAR) is lanes' JSON 400 naming it, on every host, and no function sees it; each is logged and counted", async ({
  h,
  logged,
}) => {
  const counted = await unrouted400(h);
  let sent = 0;
  for (const lane of LANES) {
    for (const method of ["M5X", "get", "patch", "FOO-BAR", "TRACK", "DESCRIBE", "PRI"]) {
      for (const path of [`/${lane}/x`, "/_lanes/health", "/nowhere"]) {
        const r = await rawRequest(h.url, method, path, true);
        const where = `${method} ${path}: ${r.head} ${r.body}`;
        assert.is(r.status, 400, where);
        assert.match(r.head, /^x-request-id: /im, where);
        const error = (JSON.parse(r.body) as { error: { code: string; message: string } }).error;
        assert.is(error.code, "bad_request", where);
        assert.match(error.message, new RegExp(`the method "${method}" is not one a lanes host serves: methods are case-sensitive`), where);
        assert.match(r.head, /^connection: close/im, where);
        assert.ok(r.closed, `${where}: the connection goes on after it`);
        const id = /^x-request-id: *(.*)$/im.exec(r.head)![1]!.trim();
        const line = logged.find((l) => l.requestId === id);
        assert.ok(line, `${where}: no access log line has its x-request-id`);
        assert.equal([line!.method, line!.path, line!.status, line!.fn], [method, path, 400, undefined], where);
        sent++;
      }
    }
  }
  assert.is(await unrouted400(h), counted + sent, 'lanes_unrouted_requests_total{code="400"} counts each');
});

test("a method in the list reaches the function as written (PURGE, QUERY, M-SEARCH); TRACE is 405 on a route, 404 elsewhere", async ({ h }) => {
  for (const lane of LANES) {
    for (const method of ["PURGE", "QUERY", "M-SEARCH", "UNLOCK"]) {
      const r = await rawRequest(h.url, method, `/${lane}/x`);
      assert.is(r.status, 200, `${method}: ${r.head}`);
      assert.is((JSON.parse(r.body) as { method: string }).method, method);
    }
    const trace = await rawRequest(h.url, "TRACE", `/${lane}/x`);
    assert.is(trace.status, 405, trace.head);
    assert.is((JSON.parse(trace.body) as { error: { code: string } }).error.code, "method_not_allowed");
  }
  assert.is((await rawRequest(h.url, "TRACE", "/_lanes/health")).status, 405);
  assert.is((await rawRequest(h.url, "TRACE", "/nowhere")).status, 404);
});

/** The Allow header of a raw answer, as a list. */
function allowOf(r: Raw): string[] {
  return (/^allow: *(.*)$/im.exec(r.head)?.[1] ?? "").split(",").map((m) => m.trim());
}

test("a 405's Allow names every method the resource takes, and each of them is served there (RFC 9110 15.5.6), OPTIONS included", async ({ h }) => {
  // every served method but the two never relayed: the seven a manifest can list named only
  const relayed = [...SERVED_METHODS].filter((m) => m !== "CONNECT" && m !== "TRACE").sort();
  const targets = [
    ...LANES.flatMap((lane) => [
      { path: `/${lane}/x`, allow: relayed },
      { path: `/listed-${lane}/x`, allow: ["GET", "HEAD", "POST"] },
    ]),
    { path: "/_lanes/health", allow: ["GET", "HEAD"] },
    { path: "/_lanes/functions", allow: ["GET", "HEAD"] },
  ];
  for (const { path, allow } of targets) {
    const trace = await rawRequest(h.url, "TRACE", path);
    assert.is(trace.status, 405, `TRACE ${path}: ${trace.head}`);
    assert.equal(allowOf(trace).sort(), allow, `TRACE ${path}: ${trace.head}`);
    assert.match(trace.body, new RegExp(`\\(allowed: ${allowOf(trace).join(", ")}\\)`), path);
    for (const method of SERVED_METHODS) {
      if (method === "CONNECT" || method === "TRACE") continue;
      const r = await rawRequest(h.url, method, path);
      const where = `${method} ${path}: ${r.head} ${r.body}`;
      if (allow.includes(method)) {
        assert.is(r.status, 200, where);
        if (method !== "HEAD" && path[1] !== "_") assert.is((JSON.parse(r.body) as { method: string }).method, method, where);
      } else {
        // OPTIONS too, where the list leaves it out: the same 405 and the same Allow
        assert.is(r.status, 405, where);
        assert.equal(allowOf(r).sort(), allow, where);
      }
    }
  }
});

test("a CONNECT to host:port gets lanes' 400 and its connection is closed after it, on every host", async ({ h }) => {
  // Deno.serve reads nothing more of a connection once it has answered a CONNECT: a Deno host
  // kept it open, without saying it would not serve it, until its idle watch closed it 5-6 s later
  const r = await rawRequest(h.url, "CONNECT", "example.com:443", true);
  assert.is(r.status, 400, r.head);
  assert.match(r.body, /the request target must be a path/);
  assert.match(r.head, /\r\nconnection: close/i, r.head);
  assert.ok(r.closed, "the connection was still open 3 s after the answer");
});

test.run();
