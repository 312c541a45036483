/**
 * How many instances a cold function's requests start: a request that comes while an instance is
 * starting waits for it (a first request during the start-up load check's start had a second
 * instance start beside it: 0.3 s more of a Node host's CPU for its start); requests past what
 * the starting instances take start more, up to `max`. Both lanes, with the host on Node, Bun
 * and Deno.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectJson, poolOf, sleep, type Who } from "./helpers/chaos.ts";
import { adapter, LANES, startTestHost } from "./helpers/host.ts";

for (const lane of LANES) {
  test(`${lane} lane (${adapter.name} host): one request while an instance starts waits for it; more than it takes start another`, async () => {
    const fn = { entry: "chaos-fault.ts", lane, instances: { min: 0, max: 4 }, concurrency: 2 };
    const h = await startTestHost({ f: fn, g: fn });
    try {
      await h.host.checked;
      // the load check's instances, which never served, stop
      const [pool, other] = [poolOf(h, "f"), poolOf(h, "g")];
      await Promise.all([pool.trim(), other.trim()]);
      assert.equal([pool.instances.length, other.instances.length], [0, 0], "no instance once trimmed");

      // as the start-up load check does: an instance starts, and a request comes meanwhile
      const warming = pool.warm(1);
      await expectJson<Who>(h.fetch("/f"));
      await warming;
      assert.is(pool.instances.length, 1, "the request waited for the instance starting");

      // three requests that each hold their slot: one instance starting takes two of them
      const warmingAgain = other.warm(1);
      const held = [1, 2, 3].map(() => h.fetch("/g?do=sleep&ms=300"));
      await sleep(50);
      for (const r of await Promise.all(held)) assert.is(r.status, 200);
      await warmingAgain;
      assert.is(other.instances.length, 2, "the third request started a second instance");
    } finally {
      await h.stop();
    }
  });
}

test.run();
