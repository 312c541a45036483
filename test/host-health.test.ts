/**
 * `/_lanes/health` and `/_lanes/ready` of a host whose functions cannot start, as a load
 * balancer or a Kubernetes probe reads them: some broken is "degraded" (200, it serves the
 * others); all broken is "down" (503 on both), with or without a store; and a host down because
 * a start failed for a passing reason comes back without a request to its functions.
 */
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startCli, type RunningCli } from "./helpers/cli.ts";
import { makeFunctionsDir } from "./helpers/host.ts";
import { scratchDir } from "./helpers/scratch.ts";

const THROWS = `throw new Error("broken at import");\nexport default { fetch: () => new Response("never") };\n`;
const WORKS = `export default { fetch: () => new Response("works") };\n`;

interface Probe {
  status: number;
  body: { status: string; reason?: string };
}

async function probe(url: string, path: "health" | "ready"): Promise<Probe> {
  const res = await fetch(`${url}/_lanes/${path}`);
  return { status: res.status, body: (await res.json()) as Probe["body"] };
}

/** Health once `want` says so (the load check runs after listening, a function at a time), or at the deadline. */
async function healthUntil(url: string, want: (p: Probe) => boolean, ms = 15_000): Promise<Probe> {
  const deadline = Date.now() + ms;
  for (;;) {
    const p = await probe(url, "health");
    if (want(p) || Date.now() > deadline) return p;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function withHost(args: string[], body: (cli: RunningCli) => Promise<void>): Promise<void> {
  const cli = await startCli([...args, "--port", "0", "--no-access-log"]);
  try {
    await body(cli);
  } finally {
    await stop(cli);
  }
}

async function stop(cli: RunningCli): Promise<void> {
  cli.kill("SIGKILL");
  await cli.exited;
}

/**
 * The host whose every function is broken, without or with a store: started by the test of its
 * start-up below, then kept for the test of a host found down after it (each start of a host
 * costs about a second of CPU here).
 */
const brokenHosts = new Map<boolean, RunningCli>();
test.after(async () => {
  for (const cli of brokenHosts.values()) await stop(cli);
});

/** A module that takes a while to load (1.5 s), then throws or serves: the load check's window, made long enough to see. */
const slow = (then: string) => `await new Promise((r) => setTimeout(r, 1500));\n${then}`;

for (const store of [false, true]) {
  const how = store ? "with a store" : "without a store";
  test(`${how}: from the first probe after listening, health says "starting" and ready 503 until the load check has ended, never ok`, async () => {
    const broken = makeFunctionsDir({ a: { entry: "a.ts" }, b: { entry: "b.ts", lane: "process", sandbox: "off" } }, { "a.ts": slow(THROWS), "b.ts": slow(THROWS) });
    const data = store ? ["--data", join(scratchDir("health-start-"), "store")] : [];
    const cli = await startCli(["start", broken, ...data, "--port", "0", "--no-access-log"]);
    brokenHosts.set(store, cli);
    {
      const { url } = cli;
      const [health, ready] = [await probe(url, "health"), await fetch(`${url}/_lanes/ready`)];
      const body = (await ready.json()) as Probe["body"];
      assert.equal([health.status, health.body.status], [200, "starting"], JSON.stringify(health.body));
      assert.match(health.body.reason ?? "", /the start-up load check has not yet loaded every function once/);
      assert.equal([ready.status, body.status, ready.headers.get("retry-after")], [503, "starting", "1"], JSON.stringify(body));
      // then the truth the check found
      const down = await healthUntil(url, (p) => p.body.status !== "starting");
      assert.equal([down.status, down.body.status], [503, "down"], JSON.stringify(down.body));
      assert.is((await probe(url, "ready")).status, 503);
    }
    const works = makeFunctionsDir({ a: { entry: "a.ts" } }, { "a.ts": slow(WORKS) });
    await withHost(["start", works, ...(store ? ["--data", join(scratchDir("health-start-"), "store")] : [])], async ({ url }) => {
      assert.is((await probe(url, "ready")).status, 503, "not ready while its one function loads");
      const ok = await healthUntil(url, (p) => p.body.status !== "starting");
      assert.equal([ok.status, ok.body.status], [200, "ok"], JSON.stringify(ok.body));
      assert.is((await probe(url, "ready")).status, 200);
    });
  });

  test(`every function broken, ${how}: health and ready answer 503 down, naming them`, async () => {
    const cli = brokenHosts.get(store);
    assert.ok(cli, "the host of the test above is running");
    try {
      const health = await healthUntil(cli!.url, (p) => p.body.status === "down");
      assert.is(health.status, 503, JSON.stringify(health.body));
      assert.is(health.body.status, "down");
      assert.match(health.body.reason ?? "", /no function can start \(a, b\)/);
      const ready = await probe(cli!.url, "ready");
      assert.is(ready.status, 503);
      assert.is(ready.body.status, "down");
    } finally {
      brokenHosts.delete(store);
      await stop(cli!);
    }
  });
}

test("some functions broken: health is 200 degraded naming them, ready stays 200, the others serve", async () => {
  const dir = makeFunctionsDir({ a: { entry: "a.ts" }, b: { entry: "b.ts" } }, { "a.ts": THROWS, "b.ts": WORKS });
  await withHost(["start", dir], async ({ url }) => {
    const health = await healthUntil(url, (p) => p.body.status !== "starting");
    assert.is(health.status, 200);
    assert.is(health.body.status, "degraded");
    assert.match(health.body.reason ?? "", /1 of 2 function\(s\) cannot start \(a\)/);
    assert.is((await probe(url, "ready")).status, 200);
    assert.is(await (await fetch(`${url}/b`)).text(), "works");
  });
});

test("a host down because its one function failed to start once comes back with no request to it", async () => {
  const flag = join(scratchDir("health-flag-"), "ready");
  const source = `import { existsSync } from "node:fs";\nif (!existsSync(${JSON.stringify(flag)})) throw new Error("not yet");\n${WORKS}`;
  const dir = makeFunctionsDir({ a: { entry: "a.ts" } }, { "a.ts": source });
  await withHost(["start", dir], async ({ url }) => {
    assert.is((await healthUntil(url, (p) => p.body.status !== "starting")).status, 503);
    writeFileSync(flag, "");
    // only probes reach it: a load balancer sends a down host no request
    const back = await healthUntil(url, (p) => p.status === 200, 20_000);
    assert.is(back.body.status, "ok", JSON.stringify(back.body));
    assert.is((await probe(url, "ready")).status, 200);
    assert.is(await (await fetch(`${url}/a`)).text(), "works");
  });
  if (existsSync(flag)) rmSync(flag);
});

test("probes of a down host, however many, start one of its functions at a time, not each of them", async () => {
  const names = ["a", "b", "c", "d", "e", "f"];
  const dir = makeFunctionsDir(Object.fromEntries(names.map((n) => [n, { entry: "t.ts" }])), { "t.ts": THROWS });
  await withHost(["start", dir], async ({ url, output }) => {
    const starts = () =>
      output()
        .split("\n")
        .filter((l) => / cannot start \(/.test(l)).length;
    assert.is((await healthUntil(url, (p) => p.body.status === "down")).status, 503);
    const before = starts();
    // at once: a probe that came after the retry had failed (rounds one after another did, on a
    // busy machine) would rightly begin the next one
    await Promise.all(Array.from({ length: 100 }, () => probe(url, "health")));
    // the retry it began fails within a second (an isolate that throws at import); wait for any other
    const deadline = Date.now() + 10_000;
    while (starts() === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1500));
    assert.is(starts() - before, 1, output().slice(-3000));
  });
});

test.run();
