/**
 * A deploy of many functions costs what a start does: its functions are tried a few at a time,
 * and only the first eight are left running, as the start-up load check leaves them.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { DeployHost } from "../runtime/host/deploy-host.ts";
import { KEPT_WARM } from "../runtime/host/load-check.ts";
import { deploy, get, inProcessDeployHost, type Sample, scratchDir, steadyLoad } from "./helpers/deploy.ts";
import { adapter } from "./helpers/host.ts";

const test = suite<{ d: DeployHost }>(`deploying many functions on ${adapter.name}`);
const MANY = 12;

function folder(count: number): string {
  const dir = scratchDir("many-");
  writeFileSync(join(dir, "f.ts"), `export default { fetch: (r: Request) => new Response(new URL(r.url).pathname) };\n`);
  const functions: Record<string, unknown> = { steady: { entry: "f.ts", instances: { min: 1, max: 1 } } };
  for (let i = 0; i < count; i++) functions[`f${i}`] = { entry: "f.ts", instances: { max: 1 } };
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions }));
  return dir;
}

test.before(async (ctx) => {
  ctx.d = await inProcessDeployHost({ dir: folder(0) });
});

test.after(async ({ d }) => {
  await d?.stop(0);
});

test(`a deploy of ${MANY} isolate functions leaves ${KEPT_WARM} of them running, not all, and each answers`, async ({ d }) => {
  const load = steadyLoad(d.host.url, ["/steady"], 1);
  let samples: Sample[];
  try {
    const r = await deploy(d.host.url, folder(MANY));
    assert.is(r.status, 201, r.text);
  } finally {
    samples = await load.stop();
  }
  assert.ok(
    samples.every((s) => s.status === 200),
    "the function that serves on answers every request meanwhile",
  );
  const pools = d.deployer!.routing.served.filter((s) => /^f\d+$/.test(s.spec.name));
  assert.is(pools.length, MANY);
  const running = pools.filter((s) => s.pool!.live() > 0).length;
  // every one of them ran before the switch: all 12 workers were left running
  assert.is(running, KEPT_WARM, `${running} of ${MANY} left running`);
  for (let i = 0; i < MANY; i++) {
    const s = await get(d.host.url, `/f${i}`);
    assert.equal([s.status, s.text], [200, `/f${i}`]);
  }
});

test.run();
