/**
 * A connection that holds the host without a request is closed, on every host: one that sends
 * nothing, one whose request head never ends (a line a second, as a slowloris client sends it),
 * and a keep-alive connection left idle after its answer. A connection whose request is still
 * being worked on is never cut, however long it stays silent, nor is a new one from the port of
 * one the host has closed. Node closes them by its
 * `headersTimeout` and `keepAliveTimeout`, Bun's node:http the same, a Deno host by lanes' watch
 * of its connections (adapters/deno-idle-conns.ts): Deno.serve has none. The real `lanes start`,
 * with `--header-timeout 2 --keep-alive-timeout 1` so that the suite waits seconds, not the
 * defaults' 10 and 5.
 */
import { rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { localAddress, OwnSockets } from "../adapters/deno-idle-conns.ts";
import { libc } from "../adapters/libc.ts";
import { DEFAULT_CONNECTION_LIMITS } from "../adapters/types.ts";
import { parseArgs } from "../runtime/cli/args.ts";
import { main } from "../runtime/cli/main.ts";
import { SERVE_FLAGS, serveOptions } from "../runtime/cli/serve-flags.ts";
import { isAlive, waitFor } from "./helpers/chaos.ts";
import { startCli, type RunningCli } from "./helpers/cli.ts";
import { adapter, makeFunctionsDir } from "./helpers/host.ts";

/** How a raw connection ended: when it closed (ms after `from`), and what the host sent on it. */
interface Ended {
  closedMs: number | null;
  received: string;
  /** Whether it connected at all. */
  connected: boolean;
  /** The socket's error, if it had one (a refused connect, a reset). */
  error?: string;
}

const HEADER_S = 2;
const KEEP_ALIVE_S = 1;
const GIVE_UP_MS = 10_000;
/** The slow request works this long, twice the time a head may take, with nothing sent either way. */
const WORK_MS = 4000;

/** A raw connection to the host (from `localPort`, if given), started by `start`, which says from when it is timed. */
function probe(port: number, start: (s: Socket, received: () => string) => Promise<number> | number, localPort?: number): Promise<Ended> {
  return new Promise((resolve) => {
    const s = connect({ port, host: "127.0.0.1", ...(localPort ? { localAddress: "127.0.0.1", localPort } : {}) });
    let received = "";
    let from = Date.now();
    let done = false;
    let error: string | undefined;
    let connected = false;
    const end = (closedMs: number | null) => {
      if (done) return;
      done = true;
      clearTimeout(giveUp);
      s.destroy();
      resolve({ closedMs, received, connected, ...(error ? { error } : {}) });
    };
    const giveUp = setTimeout(() => end(null), GIVE_UP_MS);
    s.on("data", (d) => (received += d));
    s.on("error", (e: NodeJS.ErrnoException) => (error = `${e.code ?? ""} ${e.message}`));
    s.on("close", () => end(Date.now() - from));
    s.on("connect", async () => {
      connected = true;
      from = await start(s, () => received);
    });
  });
}

/** Until the host has sent an answer on `s` (or closed it). */
const untilAnswered = async (s: Socket, received: () => string) => {
  while (!/\r\n\r\n[\s\S]+/.test(received()) && !s.destroyed) await new Promise((r) => setTimeout(r, 20));
};

/**
 * A keep-alive connection left idle until the host closes it, then a new connection from the
 * same client port, silent for half of --header-timeout before its request. (A Deno host's watch
 * knows connections by their client's port, and once took such a new connection for the old one,
 * whose time was up: it shut it down with its request unanswered.)
 */
async function samePortAgain(port: number): Promise<Ended> {
  for (let attempt = 1; ; attempt++) {
    let localPort = 0;
    const first = await probe(port, async (s, received) => {
      localPort = s.localPort!;
      s.write("GET /work HTTP/1.1\r\nHost: x\r\n\r\n");
      await untilAnswered(s, received);
      return Date.now();
    });
    assert.ok(first.closedMs !== null && /^HTTP\/1\.1 200 /.test(first.received), `the first connection was answered and closed: ${JSON.stringify(first)}`);
    await new Promise((r) => setTimeout(r, 100)); // the client's end of the old one is gone
    const again = await probe(
      port,
      (s) => {
        setTimeout(() => s.write("GET /work HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), (HEADER_S * 1000) / 2);
        return Date.now();
      },
      localPort,
    );
    // Another process may take the port meanwhile for a connection of its own (a suite beside
    // this one opens thousands): the client then cannot connect from it (EADDRINUSE, or
    // EADDRNOTAVAIL or EINVAL if that connection is to the host too), ends with nothing
    // received, and the host never saw this connection. A full run once failed so, beside a load
    // generator. Try again from a new port.
    if (again.connected || attempt === 5) return again;
  }
}

const test = suite<{
  cli: RunningCli;
  dir: string;
  silent: Promise<Ended>;
  slowHead: Promise<Ended>;
  keptAlive: Promise<Ended>;
  working: Promise<Ended>;
  samePort: Promise<Ended>;
}>(`connections without a request (${adapter.name} host)`);

test.before(async (ctx) => {
  ctx.dir = makeFunctionsDir({ work: { entry: "chaos-fault.ts", timeoutMs: 30_000, instances: { min: 1, max: 1 }, concurrency: 4 } });
  const limits = ["--header-timeout", String(HEADER_S), "--keep-alive-timeout", String(KEEP_ALIVE_S)];
  ctx.cli = await startCli(["start", ctx.dir, "--port", "0", "--no-access-log", ...limits]);
  const port = Number(new URL(ctx.cli.url).port);
  // all four side by side: the suite takes as long as the slowest
  ctx.silent = probe(port, () => Date.now());
  ctx.slowHead = probe(port, (s) => {
    s.write("GET /work HTTP/1.1\r\nHost: x\r\n");
    let n = 0;
    const drip = setInterval(() => (s.destroyed ? clearInterval(drip) : s.write(`x-line-${n++}: a\r\n`)), 1000);
    s.on("close", () => clearInterval(drip));
    return Date.now();
  });
  ctx.keptAlive = probe(port, async (s, received) => {
    s.write("GET /work HTTP/1.1\r\nHost: x\r\n\r\n");
    await untilAnswered(s, received);
    return Date.now(); // idle from its answer on
  });
  ctx.samePort = samePortAgain(port);
  ctx.working = probe(port, async (s, received) => {
    s.write(`GET /work?do=sleep&ms=${WORK_MS} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await untilAnswered(s, received);
    s.end(); // answered: the suite need not wait for this one's keep-alive to end
    return Date.now();
  });
});
test.after(({ cli, dir }) => {
  if (isAlive(cli.pid)) cli.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

test("a connection that sends nothing is closed once --header-timeout has passed", async ({ silent }) => {
  const { closedMs } = await silent;
  assert.ok(closedMs !== null, `still open after ${GIVE_UP_MS} ms`);
  assert.ok(closedMs >= HEADER_S * 1000 - 300, `closed after ${closedMs} ms: a client must have --header-timeout to send its request`);
});

test("a request head sent a line a second and never ended is closed once --header-timeout has passed", async ({ slowHead }) => {
  const { closedMs, received } = await slowHead;
  assert.ok(closedMs !== null, `still open after ${GIVE_UP_MS} ms`);
  assert.ok(closedMs >= HEADER_S * 1000 - 300, `closed after ${closedMs} ms`);
  assert.not.match(received, /^HTTP\/1\.1 2/, "the unfinished request was not served");
});

test("a keep-alive connection left idle after its answer is closed once --keep-alive-timeout has passed, and its answer said when", async ({ keptAlive }) => {
  const { closedMs, received } = await keptAlive;
  assert.match(received, /^HTTP\/1\.1 200 /);
  assert.ok(closedMs !== null, `still open after ${GIVE_UP_MS} ms`);
  assert.ok(closedMs >= KEEP_ALIVE_S * 1000 - 300, `closed ${closedMs} ms after its answer`);
  // the hint a client keeps an idle connection by (Node's fetch: a second less; 4 s without one),
  // so that it does not send a request as the host closes the connection
  const head = received.slice(0, received.indexOf("\r\n\r\n"));
  assert.match(head, new RegExp(`\r\nkeep-alive: timeout=${KEEP_ALIVE_S}(\r\n|$)`, "i"), `the answer's head:\n${head}`);
});

test("a request worked on for twice --header-timeout, with nothing sent either way meanwhile, is answered", async ({ working }) => {
  const { received } = await working;
  assert.match(received, /^HTTP\/1\.1 200 /, `the answer: ${JSON.stringify(received.slice(0, 200))}`);
});

test("a new connection from the port of one the host closed gets its own --header-timeout, and its request is answered", async ({ samePort }) => {
  const ended = await samePort;
  assert.match(ended.received, /^HTTP\/1\.1 200 /, `the answer: ${JSON.stringify({ ...ended, received: ended.received.slice(0, 200) })}`);
});

test("a Deno host takes from its own sockets only its server's connections, never one it made itself", async () => {
  assert.equal([...(localAddress("127.0.0.1") ?? [])], [127, 0, 0, 1]);
  // a server on every address: no other socket can have its port, no address to compare
  assert.is(localAddress("0.0.0.0"), undefined);
  assert.is(localAddress("localhost"), undefined);
  const deno = (globalThis as { Deno?: ConstructorParameters<typeof OwnSockets>[0] }).Deno;
  if (adapter.name !== "deno") return; // the watch runs on a Deno host only: Node's and Bun's servers close such connections themselves
  const c = libc();
  assert.ok(deno && c, "Deno's FFI is there");
  const listen = (host: string) =>
    new Promise<Server>((resolve) => {
      const s = createServer(() => {});
      s.listen(0, host, () => resolve(s));
    });
  const connected = (o: { port: number; host: string; localAddress?: string; localPort?: number }) =>
    new Promise<Socket>((resolve, reject) => {
      const sock = connect(o, () => resolve(sock));
      sock.on("error", reject);
    });
  const server = await listen("127.0.0.1");
  const other = await listen("127.0.0.1");
  const port = (server.address() as { port: number }).port;
  const client = await connected({ port, host: "127.0.0.1" });
  // the host's own connection elsewhere, from another address but the server's port
  const mine = await connected({ port: (other.address() as { port: number }).port, host: "127.0.0.1", localAddress: "127.0.0.2", localPort: port });
  try {
    await waitFor(() => new OwnSockets(deno!, c!, port, localAddress("127.0.0.1")).list()!.length === 1, "the server has accepted the client");
    const found = new OwnSockets(deno!, c!, port, localAddress("127.0.0.1")).list()!;
    assert.equal(
      found.map((f) => f.remotePort),
      [client.localPort],
    );
    // a server on every address counts that one too: no other socket could have its port there
    assert.equal(new OwnSockets(deno!, c!, port, undefined).list()!.length, 2);
  } finally {
    for (const s of [client, mine]) s.destroy();
    await Promise.all([server, other].map((s) => new Promise((r) => s.close(r))));
  }
});

test("the limits default to a head within 10 s and 5 s of keep-alive, and a bad value is refused naming the flag and the rule", async () => {
  const given = (argv: string[]) => serveOptions(parseArgs(argv, SERVE_FLAGS, "start"), "start").connections;
  assert.equal(given([]), { headerTimeoutMs: 10_000, keepAliveMs: 5_000 });
  assert.equal(DEFAULT_CONNECTION_LIMITS, { headerTimeoutMs: 10_000, keepAliveMs: 5_000 });
  assert.equal(given(["--header-timeout", "2.5", "--keep-alive-timeout", "65"]), { headerTimeoutMs: 2500, keepAliveMs: 65_000 });
  for (const [flag, value, rule] of [
    ["--header-timeout", "0", "a number of seconds from 1 to 300"],
    ["--header-timeout", "301", "a number of seconds from 1 to 300"],
    ["--keep-alive-timeout", "soon", "a number of seconds from 1 to 3600"],
    ["--keep-alive-timeout", "", "a number of seconds from 1 to 3600"],
  ] as const) {
    let err = "";
    const code = await main({ ...adapter, writeOut: () => {}, writeErr: (t) => void (err += t) }, ["start", "/nonexistent", flag, value]);
    assert.is(code, 2, `${flag} ${JSON.stringify(value)} was accepted`);
    assert.match(err, `lanes start: ${flag} must be ${rule} (got ${JSON.stringify(value)})`);
  }
});

test.run();
