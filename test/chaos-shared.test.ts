/**
 * Chaos, part 5: ctx.shared under pressure. Concurrent adds from several instances lose no
 * update, a full store refuses with a clear error and corrupts nothing, wrong calls reject
 * (never throw or hang), and a manifest `shared` group is one store across functions and
 * lanes. Both lanes, host on Node, Bun and Deno.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { expectJson, measure } from "./helpers/chaos.ts";
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
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => expectJson<{ instance: string }>(h.fetch("/counter?op=add&key=hits&n=20&parallel=20"))),
    );
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
    const { errors } = await expectJson<{ errors: Failure[] }>(h.fetch("/values?op=wrong&key=w"));
    assert.is(errors.length, 4);
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
  await Promise.all(
    Array.from({ length: 40 }, (_, i) => expectJson(h.fetch(`/g-${i % 2 ? "isolate" : "process"}?op=add&key=both&n=25&parallel=25`))),
  );
  for (const name of ["g-isolate", "g-process"]) {
    assert.is((await expectJson<{ total: number }>(h.fetch(`/${name}?op=add&key=both&n=0`))).total, 1000, name);
  }
});

group.run();
