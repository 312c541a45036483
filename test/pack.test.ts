/**
 * Packed isolates (`"pack": true`): functions share worker threads, each in a context of its own
 * with its own env, globals, module state and ctx.shared; a CPU loop or a crash in one of them
 * ends its worker, cuts the requests in flight of the functions that share it (a 502 naming
 * the cause) and leaves the other worker's requests alone; the host says so at start-up. With
 * the host on Node, Bun and Deno.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { capabilityTable } from "../runtime/capability-table.ts";
import { BUSY_LAG_MS } from "../runtime/pack/house.ts";
import { expectError, expectJson, sleep, waitFor } from "./helpers/chaos.ts";
import { adapter, startTestHost, type TestHost } from "./helpers/host.ts";

interface Probe {
  who: string | null;
  processEnv: string | null;
  envKeys: string[];
  denoEnv?: string | null;
  bunEnv?: string | null;
  owner: string;
  calls: number;
  hits: number;
}

const test = suite<{ h: TestHost }>(`packed isolates (${adapter.name} host)`);
const probe = (who: string, extra: Record<string, unknown> = {}) => ({ entry: "pack-probe.ts", env: { WHO: who }, ...extra });
const PACKED = ["a", "b", "c", "g1", "g2"];

test.before(async (ctx) => {
  ctx.h = await startTestHost(
    {
      a: probe("a"),
      b: probe("b"),
      c: probe("c"),
      g1: probe("g1", { shared: "group" }),
      g2: probe("g2", { shared: "group" }),
      // two instances from the start: two packed workers (this machine has 2+ cores)
      wide: probe("wide", { instances: { min: 2, max: 2 } }),
      // timeoutMs 1000, not less: once its worker is recycled, the next request to spin starts a
      // new one inside it (in a full run here: 504 after 300 ms)
      spin: probe("spin", { timeoutMs: 1000 }),
      crash: probe("crash"),
      solo: probe("solo", { pack: false }),
      sw1: { entry: "pack-sw.ts", env: { WHO: "sw1" } },
      sw2: { entry: "pack-sw.ts", env: { WHO: "sw2" } },
    },
    { top: { pack: true } },
  );
  await ctx.h.host.checked;
});
test.after(async ({ h }) => {
  await h.stop();
  assert.is(h.host.pack.workers.length, 0, "no packed worker outlives the host");
});

/** The packed worker holding `name` now. */
const workerOf = (h: TestHost, name: string) => h.host.pack.describe().find((w) => w.functions.includes(name))?.id;

test("the start-up load check leaves the unpacked isolate warm and the packed functions cold (no instance, no context in a worker)", async ({ h }) => {
  const m = await expectJson<{ functions: { name: string; instances: unknown[] }[]; packed: { functions: string[] }[] }>(
    h.fetch("/_lanes/metrics", { headers: { accept: "application/json" } }),
  );
  const live = Object.fromEntries(m.functions.map((f) => [f.name, f.instances.length]));
  assert.equal(live, { a: 0, b: 0, c: 0, g1: 0, g2: 0, wide: 2, spin: 0, crash: 0, solo: 1, sw1: 0, sw2: 0 }, "instances on /_lanes/metrics");
  assert.equal(
    m.packed.flatMap((w) => w.functions),
    ["wide", "wide"],
    `only wide (instances.min 2) is in the packed workers: ${JSON.stringify(m.packed)}`,
  );
});

test("packed functions answer side by side, each with its own env, globals, module state and ctx.shared", async ({ h }) => {
  const got: Record<string, Probe[]> = {};
  for (let round = 0; round < 2; round++) {
    for (const name of PACKED) (got[name] ??= []).push(await expectJson<Probe>(h.fetch(`/${name}`)));
  }
  for (const name of PACKED) {
    const [first, second] = got[name]!;
    assert.is(first!.who, name, `${name}: env`);
    assert.is(first!.processEnv, name, `${name}: process.env is its own env`);
    assert.equal(first!.envKeys, ["WHO"], `${name}: nothing else in process.env`);
    if (first!.denoEnv !== undefined) assert.is(first!.denoEnv, name, `${name}: Deno.env`);
    if (first!.bunEnv !== undefined) assert.is(first!.bunEnv, name, `${name}: Bun.env`);
    assert.is(first!.owner, name, `${name}: a global it set while loading is its own`);
    assert.equal([first!.calls, second!.calls], [1, 2], `${name}: its module state`);
  }
  // a and b count on their own stores; g1 and g2 share the group's
  assert.equal(
    got.a!.map((p) => p.hits),
    [1, 2],
  );
  assert.equal(
    got.b!.map((p) => p.hits),
    [1, 2],
  );
  assert.equal([...got.g1!, ...got.g2!].map((p) => p.hits).sort(), [1, 2, 3, 4]);
  // side by side: five functions on at most two workers, so some share one
  const workers = h.host.pack.describe();
  assert.ok(workers.length >= 1 && workers.length <= adapter.cores(), `${workers.length} packed workers`);
  assert.ok(
    workers.some((w) => PACKED.filter((n) => w.functions.includes(n)).length >= 2),
    JSON.stringify(workers),
  );
  assert.is(workerOf(h, "solo"), undefined, "an unpacked function has a worker of its own");
  assert.is((await expectJson<Probe>(h.fetch("/solo"))).processEnv, "solo");
});

test("packed service-worker-style modules each answer through their own fetch listener", async ({ h }) => {
  for (const name of ["sw1", "sw2", "sw1"]) {
    const r = await h.fetch(`/${name}`);
    assert.is(r.status, 200, name);
    assert.is(await r.text(), `service worker ${name}`);
  }
  assert.ok(workerOf(h, "sw1") !== undefined && workerOf(h, "sw2") !== undefined, "both are packed");
});

/**
 * Requests in flight on every packed function while `trigger` takes its worker down: those on
 * the culprit's worker get a 502 naming it, those on the other worker are answered.
 */
async function takeDown(h: TestHost, culprit: string, trigger: string, why: RegExp) {
  for (const name of [culprit, ...PACKED]) await expectJson(h.fetch(`/${name}`)); // loaded
  const home = workerOf(h, culprit);
  assert.ok(home, `${culprit} is in a packed worker`);
  const neighbours = PACKED.filter((n) => workerOf(h, n) === home);
  const others = PACKED.filter((n) => workerOf(h, n) !== home);
  assert.ok(neighbours.length > 0 && others.length > 0, `functions on both workers: ${JSON.stringify(h.host.pack.describe())}`);
  const inFlight = PACKED.map((n) => h.fetch(`/${n}?do=sleep&ms=1500`).then((r) => [n, r] as const));
  await sleep(200);
  const bad = h.fetch(`/${culprit}?${trigger}`);
  for (const [name, r] of await Promise.all(inFlight)) {
    if (others.includes(name)) {
      assert.is(r.status, 200, `${name}, on another worker, is answered`);
      await r.arrayBuffer();
    } else {
      const err = await expectError(r, 502, "instance_crashed");
      assert.match(err.message, /its packed worker \d+ was recycled/, name);
      assert.match(err.message, why, name);
    }
  }
  await (await bad).arrayBuffer();
  for (const name of [culprit, ...PACKED]) await expectJson(h.fetch(`/${name}`)); // all serve again
  await waitFor(() => h.logs.some((l) => /packed-worker-\d+: function .* recycling the worker/.test(l)), "the host logs the recycling");
}

test("a CPU loop in one packed function recycles its worker: requests in flight there get a 502 naming it, the other worker's are answered", async ({ h }) => {
  // (on Deno terminate() cannot stop the loop: the thread is leaked and spins its 3 s out)
  await takeDown(h, "spin", "do=spin&ms=3000", /function "spin" was stopped: it did not respond/);
  const leaked = h.host.functions.find((f) => f.spec.name === "spin")!.pool!.leaked;
  assert.is(leaked, adapter.caps.terminateStopsSpin ? 0 : 1);
});

test("an uncaught exception in one packed function ends its worker: requests in flight there get a 502 naming it, the other worker's are answered", async ({ h }) => {
  await takeDown(h, "crash", "do=crash", /function "crash" crashed \(uncaught exception: pack probe crashed on purpose\)/);
  assert.ok(
    h.logs.some((l) => l.includes("pack probe crashed on purpose")),
    "the stack is in the host log",
  );
});

test("the start-up log and the capability table say what packing gives up", ({ h }) => {
  const line = h.logs.find((l) => l.includes("packed isolates ("));
  assert.ok(line, h.logs.join(""));
  assert.match(line!, /a CPU loop or an uncaught exception in one packed function recycles the worker thread it shares/);
  assert.match(line!, /get a 502/);
  const table = capabilityTable(
    h.host.functions.map((f) => f.spec),
    adapter,
  ).join("\n");
  assert.match(table, /^a\s+isolate\/packed\s/m);
  assert.match(table, /^solo\s+isolate\s/m);
  assert.match(table, adapter.caps.terminateStopsSpin ? /stopped with its worker \(502s\)/ : /not stopped/);
});

test.run();

/**
 * A module that spins while it loads, 6 s: longer than the 5 s its start may take (counted from
 * before the spin began), so every start of it times out. Not for ever: Deno cannot stop the
 * thread of a worker it terminates, and each start's loop spun on until the suite's end (a core
 * each, beside the tests after it); with 10 s the Deno run of this suite took 47 s of CPU.
 */
const LOOP = "const end = Date.now() + 6_000;\nwhile (Date.now() < end) {}\nexport default () => new Response('never');\n";
const loop = suite(`a packed module that never finishes loading (${adapter.name} host)`);

loop("its start timing out recycles its own worker, naming it, and its retry takes no pack-mate with it: the others keep answering", async () => {
  const ok = (who: string) => probe(who, { timeoutMs: 1000 }); // start timeout: 5 s (pool/start.ts)
  const h = await startTestHost({ p1: ok("p1"), p2: ok("p2"), ploop: { entry: "loop.ts", timeoutMs: 1000 } }, { top: { pack: true }, extraFiles: { "loop.ts": LOOP } });
  try {
    // the load check starts ploop after p1 and p2; from its worker seen busy on, the test asks
    await waitFor(() => h.host.pack.describe().some((w) => w.functions.includes("ploop") && w.lagMs > BUSY_LAG_MS), "ploop's worker is seen busy");
    // two starts of ploop time out (5 s each, then it is given up on): p1 and p2 answer throughout
    const until = Date.now() + 12_500;
    while (Date.now() < until) {
      for (const name of ["p1", "p2"]) {
        const at = Date.now();
        const r = await h.fetch(`/${name}`, { signal: AbortSignal.timeout(2000) });
        assert.is(r.status, 200, name);
        await r.arrayBuffer();
        assert.ok(Date.now() - at < 2000, `${name} answered in ${Date.now() - at} ms`);
      }
      await sleep(200);
    }
    await waitFor(
      () => h.logs.some((l) => /packed-worker-\d+: function "ploop" never finished loading/.test(l)),
      () => h.logs.join(""),
    );
    assert.not.ok(
      h.logs.some((l) => /function "p[12]"/.test(l)),
      h.logs.join(""),
    );
    for (const name of ["p1", "p2"]) assert.is(h.host.functions.find((f) => f.spec.name === name)!.pool!.restarts, 0, `${name} crashes`);
  } finally {
    await h.stop();
  }
});

loop("a function asked for while a module is stuck loading is not placed beside it, even in the first second", async () => {
  const h = await startTestHost({ p1: probe("p1", { timeoutMs: 3000 }), ploop: { entry: "loop.ts", timeoutMs: 1000 } }, { top: { pack: true }, extraFiles: { "loop.ts": LOOP } });
  try {
    await h.host.checked; // ploop's start was given up on, p1 loaded and unloaded again
    await waitFor(() => workerOf(h, "ploop") === undefined, "ploop's stuck worker is gone", 10_000);
    // ask for ploop until a start of it is placed (each answer before that: its start backoff)
    let stuck = Promise.resolve(0);
    let asking = false;
    await waitFor(
      () => {
        if (workerOf(h, "ploop") !== undefined) return true;
        if (!asking) {
          asking = true;
          stuck = h
            .fetch("/ploop", { signal: AbortSignal.timeout(8000) })
            .then(
              (r) => r.status,
              () => 0,
            )
            .finally(() => (asking = false));
        }
        return false;
      },
      "ploop is placed",
      15_000,
    );
    const r = await h.fetch("/p1", { signal: AbortSignal.timeout(5000) });
    assert.is(r.status, 200, await r.text());
    assert.is.not(workerOf(h, "p1"), workerOf(h, "ploop"), JSON.stringify(h.host.pack.describe()));
    assert.is.not(await stuck, 200);
  } finally {
    await h.stop();
  }
});

loop.run();
