/**
 * Chaos, part 5: ctx.shared under pressure. Concurrent adds from several instances lose no
 * update, a full store refuses with a clear error and corrupts nothing, wrong calls reject
 * (never throw or hang), a manifest `shared` group is one store across functions and lanes,
 * and an isolate instance stopped in the middle of a write leaves the store usable at once.
 * Both lanes, host on Node, Bun and Deno.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { Pool } from "../runtime/pool/pool.ts";
import { expectError, expectJson, measure, waitFor } from "./helpers/chaos.ts";
import { adapter, LANES, startTestHost, type TestHost } from "./helpers/host.ts";

type Failure = { name: string; code?: string; message: string; sync?: boolean } | null;

for (const lane of LANES) {
  const test = suite<{ h: TestHost }>(`chaos (${adapter.name} host): ctx.shared, ${lane} lane`);
  const fn = (extra: Record<string, unknown> = {}) => ({ entry: "chaos-shared.ts", lane, ...extra });

  test.before(async (ctx) => {
    ctx.h = await startTestHost({
      counter: fn({ instances: { min: 2, max: 2 } }),
      filler: fn({ instances: { min: 1, max: 1 } }),
      values: fn({ instances: { min: 1, max: 1 } }),
      bystander: { entry: "chaos-fault.ts", lane },
    });
  });
  test.after(async ({ h }) => {
    await h.stop();
    for (const f of h.host.functions) assert.is(f.pool!.instances.length, 0, `${f.spec.name}: every instance stopped`);
  });

  test("1000 concurrent adds from two instances lose no update", async ({ h }) => {
    // 50 requests at once, each with 20 adds in flight: 1000 adds racing on one key
    const t0 = performance.now();
    const answers = await Promise.all(Array.from({ length: 50 }, () => expectJson<{ instance: string }>(h.fetch("/counter?op=add&key=hits&n=20&parallel=20"))));
    const ms = performance.now() - t0;
    assert.is(new Set(answers.map((a) => a.instance)).size, 2, "both instances took part");
    const { total } = await expectJson<{ total: number }>(h.fetch("/counter?op=add&key=hits&n=0"));
    assert.is(total, 1000);
    measure(`${lane} lane, 1000 adds over 50 concurrent requests on 2 instances`, `${ms.toFixed(0)} ms, total ${total}`);
  });

  test("a function doing 10,000 awaited adds: how many per second each lane sustains", async ({ h }) => {
    for (const parallel of [1, 64]) {
      const r = await expectJson<{ total: number; ms: number }>(h.fetch(`/counter?op=add&key=speed-${parallel}&n=10000&parallel=${parallel}`));
      assert.is(r.total, 10_000);
      measure(`${lane} lane, ctx.shared.add ${parallel === 1 ? "one at a time" : "64 in flight"}`, `${Math.round(10_000 / (r.ms / 1000)).toLocaleString("en")} adds/s`);
    }
  });

  test("a store out of keys rejects the next new key with shared_full and keeps every existing one", async ({ h }) => {
    const r = await expectJson<{ created: number; error: Failure }>(h.fetch("/filler?op=fill&key=f"));
    assert.is(r.created, 1024, "the default store holds 1024 keys");
    assert.is(r.error?.name, "SharedStoreError");
    assert.is(r.error?.code, "shared_full");
    assert.match(r.error!.message, /ctx\.shared is full: 1024 keys in use \(limit 1024\); cannot create "f-1024"/);
    for (const key of ["f-0", "f-511", "f-1023"]) {
      const { total } = await expectJson<{ total: number }>(h.fetch(`/filler?op=add&key=${key}&n=1`));
      assert.is(total, 2, `${key} kept its count and still counts`);
    }
    await expectJson(h.fetch("/bystander"));
  });

  test("a value bigger than the store rejects with shared_full and corrupts nothing, not even the value it would replace", async ({ h }) => {
    await expectJson(h.fetch("/values?op=set&key=keep&value=alice"));
    await expectJson(h.fetch("/values?op=set&key=other&value=bob"));
    for (const key of ["big", "keep"]) {
      const r = await expectJson<{ error: Failure }>(h.fetch(`/values?op=huge&key=${key}&n=${300 * 1024}`));
      assert.is(r.error?.code, "shared_full");
      assert.match(r.error!.message, /ctx\.shared is full: no room for \d+ bytes/);
    }
    assert.is((await expectJson<{ value: string }>(h.fetch("/values?op=get&key=keep"))).value, "alice");
    assert.is((await expectJson<{ value: string }>(h.fetch("/values?op=get&key=other"))).value, "bob");
    assert.is((await expectJson<{ value: string | null }>(h.fetch("/values?op=get&key=big"))).value, null, "the refused key was not created");
  });

  test("calls the store refuses reach the function as rejected promises with clear messages", async ({ h }) => {
    const { instance, errors } = await expectJson<{ instance: string; errors: Failure[] }>(h.fetch("/values?op=wrong&key=w"));
    assert.is(errors.length, 9);
    for (const e of errors) {
      assert.ok(e, "it rejected");
      assert.not.ok(e!.sync, `it threw synchronously: ${e!.message}`);
      assert.is(e!.name, "SharedStoreError");
    }
    assert.is(errors[0]!.code, "shared_type");
    assert.match(errors[0]!.message, /ctx\.shared\.add\("w", 1\.5\): delta must be a safe integer/);
    assert.is(errors[1]!.code, "shared_type");
    assert.is(errors[2]!.code, "shared_type");
    assert.match(errors[2]!.message, /value must be a string, got number/);
    assert.is(errors[3]!.code, "shared_key");
    assert.match(errors[3]!.message, /key must be a non-empty string/);
    assert.is(errors[4]!.code, "shared_type");
    assert.match(errors[4]!.message, /ctx\.shared\.set\("w", …\): value must be a string, got object/);
    assert.is(errors[5]!.code, "shared_key");
    assert.match(errors[5]!.message, /key must be a non-empty string of at most 256 UTF-8 bytes, got object/);
    assert.is(errors[6]!.code, "shared_key");
    assert.match(errors[6]!.message, /got number/);
    assert.is(errors[7]!.code, "shared_type");
    assert.match(errors[7]!.message, /ctx\.shared\.add\("w", 1\): delta must be a safe integer/);
    assert.is(errors[8]!.code, "shared_key");
    // the instance that made those calls serves on
    const after = await expectJson<{ instance: string; total: number }>(h.fetch("/values?op=add&key=w-after"));
    assert.is(after.instance, instance);
    assert.is(after.total, 1);
  });

  test.run();
}

const group = suite<{ h: TestHost }>(`chaos (${adapter.name} host): a ctx.shared group spans functions and lanes`);
group.before(async (ctx) => {
  ctx.h = await startTestHost({
    "g-isolate": { entry: "chaos-shared.ts", lane: "isolate", shared: "grp", instances: { min: 1, max: 2 } },
    "g-process": { entry: "chaos-shared.ts", lane: "process", shared: "grp", instances: { min: 1, max: 2 } },
    solo: { entry: "chaos-shared.ts", lane: "isolate" },
  });
});
group.after(async ({ h }) => h.stop());

group("two functions in one `shared` group, one per lane, see one store; others do not", async ({ h }) => {
  await expectJson(h.fetch("/g-isolate?op=set&key=who&value=set-by-isolate"));
  assert.is((await expectJson<{ value: string }>(h.fetch("/g-process?op=get&key=who"))).value, "set-by-isolate");
  assert.is((await expectJson<{ value: string | null }>(h.fetch("/solo?op=get&key=who"))).value, null);
  await Promise.all(Array.from({ length: 40 }, (_, i) => expectJson(h.fetch(`/g-${i % 2 ? "isolate" : "process"}?op=add&key=both&n=25&parallel=25`))));
  for (const name of ["g-isolate", "g-process"]) {
    assert.is((await expectJson<{ total: number }>(h.fetch(`/${name}?op=add&key=both&n=0`))).total, 1000, name);
  }
});

group.run();

const killed = suite<{ h: TestHost }>(`chaos (${adapter.name} host): an isolate instance stopped in the middle of ctx.shared writes`);
killed.before(async (ctx) => {
  ctx.h = await startTestHost({
    writer: { entry: "chaos-shared.ts", lane: "isolate", shared: "crash", timeoutMs: 300, instances: { min: 1, max: 1 } },
    "peer-process": { entry: "chaos-shared.ts", lane: "process", shared: "crash", instances: { min: 1, max: 1 } },
    "peer-isolate": { entry: "chaos-shared.ts", lane: "isolate", shared: "crash", instances: { min: 1, max: 1 } },
  });
});
killed.after(async ({ h }) => h.stop());

killed("after a writer is stopped by its timeoutMs mid-loop, functions in its group read whole values and write at once (3 to 8 rounds)", async ({ h }) => {
  const pool = (name: string): Pool => h.host.functions.find((f) => f.spec.name === name)!.pool!;
  // 8 values of 4 KiB plus 222 KiB of ballast leave the default 256 KiB store less than a value
  // free, so every set compacts it: the writer spends most of its time inside the lock
  const SIZE = 4 * 1024;
  const whole = (v: string | null, what: string) => {
    const m = /^(\d+):(\d+):(x*)$/.exec(v ?? "");
    assert.ok(m && m[3]!.length === Number(m[2]) && Number(m[2]) === SIZE, `${what} = ${JSON.stringify(v?.slice(0, 40))}`);
  };
  const slowest: number[] = [];
  const takenBack = () => h.logs.filter((l) => /writer: an instance stopped while holding the ctx\.shared lock/.test(l)).length;
  // 3 rounds, and more (up to 8) until a stop has landed inside the lock: most do, but a clean
  // clone's full run once saw none of 3 land there (a loaded machine)
  for (let round = 0; round < 3 || (round < 8 && takenBack() === 0 && adapter.caps.terminateStopsSpin); round++) {
    await waitFor(() => pool("writer").live() === 1, "a writer instance is ready");
    const writer = pool("writer").instances[0]!;
    await expectError(await h.fetch(`/writer?op=setloop&key=w&n=${SIZE}&ballast=${222 * 1024}`), 504, "timeout");
    await waitFor(() => !pool("writer").instances.includes(writer), "the looping writer is stopped", 5000);

    const t0 = performance.now();
    // the process lane's calls run on the host's main thread: a stuck lock would freeze the host
    await expectJson(h.fetch(`/peer-process?op=set&key=after-${round}&value=process`));
    await expectJson(h.fetch(`/peer-isolate?op=set&key=after-${round}-i&value=isolate`));
    const ms = performance.now() - t0;
    slowest.push(ms);
    assert.ok(ms < 1000, `round ${round}: the first writes after the stop took ${ms.toFixed(0)} ms`);
    for (let i = 0; i < 8; i++) {
      const lane = i % 2 ? "process" : "isolate";
      whole((await expectJson<{ value: string | null }>(h.fetch(`/peer-${lane}?op=get&key=w-${i}`))).value, `round ${round}: w-${i} read from the ${lane} lane`);
    }
    assert.is((await expectJson<{ value: string }>(h.fetch(`/peer-isolate?op=get&key=after-${round}`))).value, "process");
    assert.is((await expectJson<{ value: string }>(h.fetch(`/peer-process?op=get&key=after-${round}-i`))).value, "isolate");
  }
  measure(
    `writer stopped mid-loop, ${slowest.length} rounds`,
    `lock taken back ${takenBack()} time(s); first writes after the stop took at most ${Math.max(...slowest).toFixed(0)} ms`,
  );
  // most stops land inside the lock; on Deno the stopped thread may run on (denoland/deno#35657)
  if (adapter.caps.terminateStopsSpin) assert.ok(takenBack() >= 1, `no stop of ${slowest.length} landed inside the lock: this test proved nothing`);
});

killed.run();
