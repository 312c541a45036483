/**
 * How many instances a host's first requests start, as /_lanes/functions lists them: a request
 * that comes while the start-up load check's instance is starting waits for it (it had a second
 * instance start beside it: 0.3 s more of a Node host's CPU for its start, README.md, The
 * manifest, `instances`); requests past what the starting instance takes (`concurrency`) start
 * another, up to `max`. Both lanes, with the host on Node, Bun and Deno.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectJson, type Who } from "./helpers/chaos.ts";
import { adapter, LANES, startTestHost, type TestHost } from "./helpers/host.ts";

/** The instances ready of `name`, as /_lanes/functions says. */
async function instancesOf(h: TestHost, name: string): Promise<number> {
  const { functions } = await expectJson<{ functions: { name: string; instances: { ready: number } }[] }>(h.fetch("/_lanes/functions"));
  return functions.find((f) => f.name === name)!.instances.ready;
}

for (const lane of LANES) {
  test(`${lane} lane (${adapter.name} host): a first request during the load check's start waits for its instance; more than it takes start another`, async () => {
    const fn = { entry: "chaos-fault.ts", lane, instances: { min: 0, max: 4 }, concurrency: 2 };
    // the load check starts loading both as soon as the host listens, before the requests below arrive
    const h = await startTestHost({ one: fn, three: fn });
    try {
      const [first] = await Promise.all([expectJson<Who>(h.fetch("/one")), ...[1, 2, 3].map(async () => assert.is((await h.fetch("/three?do=sleep&ms=300")).status, 200))]);
      assert.ok(first.instance);
      await h.host.checked;
      assert.is(await instancesOf(h, "one"), 1, "one request: the instance starting served it");
      assert.is(await instancesOf(h, "three"), 2, "three requests held 300 ms, two an instance: a second instance started");
    } finally {
      await h.stop();
    }
  });
}

test.run();
