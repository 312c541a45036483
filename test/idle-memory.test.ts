/**
 * Memory comes back: once a host with many packed functions has no traffic for `idleMs`, their
 * instances are reaped, the packed workers stop, and the host's RSS returns to within 10% of
 * what it was at start-up (the host collects garbage once quiet: runtime/host/idle-memory.ts).
 * And nothing keeps what was stopped: every reaped instance and stopped worker can be collected.
 * With the host on Node, Bun and Deno; the host runs in this process, so its RSS is ours.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { expectJson, measure, sleep, waitFor } from "./helpers/chaos.ts";
import { adapter, startTestHost, type TestHost } from "./helpers/host.ts";

const FUNCTIONS = 60;
const IDLE_MS = 1000;
const MB = 1024 * 1024;

const test = suite<{ h: TestHost; startRss: number }>(`memory after idle (${adapter.name} host)`);

test.before(async (ctx) => {
  const functions: Record<string, Record<string, unknown>> = {};
  for (let i = 0; i < FUNCTIONS; i++) functions[`f${i}`] = { entry: "env.ts", env: { N: String(i) }, instances: { min: 0, idleMs: IDLE_MS } };
  ctx.h = await startTestHost(functions, { top: { pack: true } });
  await ctx.h.host.checked;
  // the start-up figure: listening, the load check over and its workers stopped
  await waitFor(() => ctx.h.host.pack.workers.length === 0, "the load check's workers stop", 30_000);
  ctx.startRss = adapter.hostRss();
});
test.after(async ({ h }) => h.stop());

test("after idleMs with no traffic, every packed worker stops and the host's RSS is back within 10% of its start-up figure", async ({ h, startRss }) => {
  for (let i = 0; i < FUNCTIONS; i++) {
    const got = await expectJson<{ env: Record<string, string> }>(h.fetch(`/f${i}`));
    assert.is(got.env.N, String(i));
  }
  const busyRss = adapter.hostRss();
  assert.ok(h.host.pack.workers.length > 0, "the functions ran in packed workers");
  await waitFor(() => h.host.pack.workers.length === 0 && h.host.functions.every((f) => f.pool!.empty), "every instance is reaped and every worker stops", 15_000);
  // the host collects garbage once quiet for 5 s, and again 6 s later (runtime/host/idle-memory.ts)
  await waitFor(() => adapter.hostRss() <= startRss * 1.1, "the host's RSS comes back", 20_000).catch(() => {});
  const idleRss = adapter.hostRss();
  measure("host RSS start / busy / after idle MB", `${(startRss / MB).toFixed(0)} / ${(busyRss / MB).toFixed(0)} / ${(idleRss / MB).toFixed(0)}`);
  assert.ok(idleRss <= startRss * 1.1, `RSS after idle ${(idleRss / MB).toFixed(0)} MB is within 10% of ${(startRss / MB).toFixed(0)} MB at start-up`);
});

/**
 * Weak references to every instance and packed worker the host has now, added to `held`. In a
 * function of its own: a suspended async test would keep its loop variables' last values.
 */
function holdWeakly(h: TestHost, seen: WeakSet<object>, held: WeakRef<object>[]): void {
  const all: object[] = [...h.host.pack.workers];
  for (const f of h.host.functions) all.push(...f.pool!.instances);
  for (const o of all) {
    if (seen.has(o)) continue;
    seen.add(o);
    held.push(new WeakRef(o));
  }
}

test("a reaped instance and a stopped packed worker are freed: nothing in the host keeps them", async ({ h }) => {
  const seen = new WeakSet<object>();
  const held: WeakRef<object>[] = [];
  // noted after each request: an instance idle for idleMs may be reaped before the last one
  for (let i = 0; i < FUNCTIONS; i++) {
    await expectJson(h.fetch(`/f${i}`));
    holdWeakly(h, seen, held);
  }
  assert.ok(held.length >= FUNCTIONS + 1, `every function ran an instance, in packed workers (${held.length} held)`);
  await waitFor(() => h.host.pack.workers.length === 0 && h.host.functions.every((f) => f.pool!.empty), "every instance is reaped and every worker stops", 15_000);
  const alive = () => held.filter((r) => r.deref() !== undefined).length;
  // a WeakRef keeps its target until the job that read it ends: collect, then look a turn later
  await waitFor(
    async () => {
      adapter.collectGarbage();
      await sleep(50);
      return alive() === 0;
    },
    () => `${alive()} of ${held.length} instances and packed workers are still held after collections`,
    5000,
  );
});

test.run();
