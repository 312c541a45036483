/**
 * The load generator on this runtime: autocannon as the bench and `lanes load` run it
 * (loadtest/harness/generator.ts), against a real server answering 64 KiB bodies. It must count
 * every answer and its bytes, and keep none of the bodies: decoding them into strings was two
 * thirds of its CPU under 256 KiB answers, which made it, not the server, the limit of the
 * bench's cells. The bench runs it in a process of its own per run (generator-main.ts), started on
 * the bench's runtime: that process must send the body, report each second and its own CPU, and
 * run with its allocator told to keep what it frees (adapters/allocator.ts), read from its
 * /proc/PID/environ while it runs.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import autocannon from "../loadtest/harness/generator.ts";
import { generatorCommand } from "../loadtest/harness/host-process.ts";
import { load } from "../loadtest/harness/load.ts";
import type { Workload } from "../loadtest/harness/workloads.ts";
import { allocatorTunedIn, keepingEnv } from "../adapters/allocator.ts";
import { adapter } from "./helpers/host.ts";
import { patterned, sameBytes } from "./helpers/bytes.ts";
import { startStallServer } from "./helpers/stall-server.ts";

const ANSWER = 64 * 1024;

/** The environment of this process's child running generator-main.ts, if there is one now. */
function generatorEnviron(): Record<string, string> | undefined {
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) !== process.pid) continue;
      if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("generator-main")) continue;
      const pairs = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
      return Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return undefined;
}

test("autocannon counts every answer and its bytes, and keeps none of the bodies", async () => {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.end(Buffer.alloc(ANSWER, "x")));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const kept: string[] = [];
  let answers = 0;
  let bytes = 0;
  try {
    const run = autocannon({
      url: `http://127.0.0.1:${port}/`,
      connections: 4,
      duration: 0.5,
      sampleInt: 100,
      verifyBody: (body) => kept.push(body) > 0,
    });
    run.on("response", (_client, status, n) => {
      if (status === 200) answers++;
      bytes += n;
    });
    const r = await run;
    assert.ok(answers > 10, `${answers} answers`);
    assert.is(r.non2xx + r.errors, 0);
    assert.ok(bytes >= answers * ANSWER, `${bytes} bytes counted for ${answers} answers of ${ANSWER}`);
    assert.is(kept.length, answers, "each answer came to verifyBody");
    const longest = Math.max(...kept.map((b) => b.length));
    assert.is(longest, 0, "no answer's body was kept");
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test("the bench's generator process sends the workload's body, reports each second, and the CPU it used", async () => {
  const sent = patterned(100_000, 4);
  let bad = 0;
  let environ: Record<string, string> | undefined;
  let looked = false;
  const server = createServer((req, res) => {
    // once, while the generator runs: its first request
    if (!looked) {
      looked = true;
      environ = generatorEnviron();
    }
    const parts: Buffer[] = [];
    req.on("data", (d: Buffer) => parts.push(d));
    req.on("end", () => {
      const got = Buffer.concat(parts);
      if (req.method !== "PUT" || req.headers["x-w"] !== "1" || !sameBytes(got, sent)) bad++;
      res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const w = { name: "w", path: "/w", method: "PUT", headers: { "x-w": "1" }, body: sent } as unknown as Workload;
  const ticks: number[] = [];
  let startedAt = 0;
  try {
    const m = await load(`http://127.0.0.1:${port}`, w, {
      generator: generatorCommand(adapter.name, adapter.runtimeBinary(adapter.name)),
      durationS: 1.2,
      connections: 4,
      onStart: () => void (startedAt = ticks.length + 1),
      onTick: (s) => ticks.push(s),
    });
    assert.ok(m.requests > 10, `${m.requests} requests`);
    assert.is(m.errors + m.non2xx, 0);
    assert.is(bad, 0, "every request came with the workload's method, headers and body");
    assert.ok(m.rps > 0 && m.requests / m.rps < 2, `${m.requests} requests at ${m.rps} req/s`);
    assert.ok(m.generatorCpuMs > 0 && m.generatorCpuMs < 10_000, `the generator used ${m.generatorCpuMs} ms of CPU`);
    assert.equal(ticks.slice(0, 1), [1], "each second is reported");
    assert.is(startedAt, 1, "its start is reported before the first second");
    const want = allocatorTunedIn(process.env) ? {} : keepingEnv(adapter.name, 128);
    assert.ok(environ, "the generator process was found among this process's children");
    for (const [name, value] of Object.entries(want)) assert.is(environ[name], value, `the generator's ${name}`);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test("the bench's generator times each answer from its own request and counts one the server dropped as an error", async () => {
  // autocannon reconnects after the server closes a connection before answering, keeps the lost
  // request queued and times every later answer on that connection from it: with a reset in every
  // two requests, a 5 ms server showed p50 in the hundreds of milliseconds, and no error
  const server = await startStallServer(5);
  const w = { name: "w", path: "/flaky", method: "GET", check: () => undefined } as unknown as Workload;
  try {
    const m = await load(server.url, w, { generator: generatorCommand(adapter.name, adapter.runtimeBinary(adapter.name)), durationS: 1, connections: 2 });
    assert.ok(m.requests > 10, `${m.requests} answered`);
    assert.ok(m.p50Ms < 100, `p50 ${m.p50Ms} ms from a server answering in 5 ms`);
    assert.ok(m.errors > 10, `${m.errors} errors: each request the server dropped is one`);
  } finally {
    await server.close();
  }
});

test("a generator process that exits without a result fails the run with what it said", async () => {
  const w = { name: "w", path: "/", method: "GET", check: () => undefined } as unknown as Workload;
  const err = await load("http://127.0.0.1:9", w, { generator: ["/bin/sh", ["-c", "echo broken >&2; exit 3"]], durationS: 1, connections: 1 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(err, Error);
  assert.match((err as Error).message, /exited with 3 and no result: broken/);
});

test.run();
