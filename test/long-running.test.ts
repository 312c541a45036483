/**
 * What a host that has run for a long time holds: after churn (deploys that name their
 * functions anew), it holds what the functions it serves now need, and nothing for the ones it
 * no longer serves. Asserted as an operator sees it: /_lanes/metrics. Host on Node, Bun and Deno.
 */
import { copyFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitFor } from "./helpers/chaos.ts";
import { deploy, inProcessDeployHost, scratchDir, versionDir } from "./helpers/deploy.ts";
import { fixtures } from "./helpers/host.ts";

const COUNTER = `export default { async fetch(_r: Request, _e: unknown, ctx: { shared: { add(k: string, d: number): Promise<number> } }) {
  return new Response(String(await ctx.shared.add("hits", 1)));
} };
`;

/** A version whose two functions (one per lane, each counting in ctx.shared) are named `name`-i and `name`-p. */
function renamed(name: string): string {
  const dir = scratchDir("renamed-");
  writeFileSync(join(dir, "count.ts"), COUNTER);
  const functions = { [`${name}-i`]: { entry: "count.ts" }, [`${name}-p`]: { entry: "count.ts", lane: "process" } };
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions }));
  return dir;
}

/**
 * Deploys of each churn test: what one leaves behind shows after the fourth as after the twelfth
 * (each deploy starts a child and an isolate: 12 and 8 of them cost the suite most of its CPU).
 */
const DEPLOYS = 4;

const sharedGroups = async (url: string) =>
  (await (await fetch(`${url}/_lanes/metrics`)).text())
    .split("\n")
    .filter((l) => l.startsWith("lanes_shared_size_bytes{"))
    .map((l) => /shared_group="([^"]*)"/.exec(l)?.[1])
    .sort();

test("deploys that rename functions leave no ctx.shared store behind: only the served functions' remain", async () => {
  const deployHost = await inProcessDeployHost({ dir: renamed("f0") });
  const host = deployHost.host;
  try {
    for (let i = 1; i <= DEPLOYS; i++) {
      const r = await deploy(host.url, renamed(`f${i}`));
      assert.is(r.status, 201, r.text);
      for (const lane of ["i", "p"]) assert.is(await (await fetch(`${host.url}/f${i}-${lane}`)).text(), "1");
    }
    assert.equal(await sharedGroups(host.url), [`fn:f${DEPLOYS}-i`, `fn:f${DEPLOYS}-p`]);
    // a function that stays keeps its store: its count goes on
    assert.is(await (await fetch(`${host.url}/f${DEPLOYS}-i`)).text(), "2");
  } finally {
    await deployHost.stop(0);
  }
});

/** A version of packed chaos-fault functions: name -> memoryMb. */
function packed(functions: Record<string, number>): string {
  const dir = scratchDir("packed-");
  copyFileSync(join(fixtures, "chaos-fault.ts"), join(dir, "fault.ts"));
  const m = Object.fromEntries(Object.entries(functions).map(([name, memoryMb]) => [name, { entry: "fault.ts", pack: true, memoryMb, instances: { idleMs: 100 } }]));
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions: m }));
  return dir;
}

test("a packed function a deploy removed no longer sizes the packed workers: the rest are held to their own memoryMb", async () => {
  const deployHost = await inProcessDeployHost({ dir: packed({ big: 512, small: 64 }) });
  const host = deployHost.host;
  try {
    assert.is((await fetch(`${host.url}/big`)).status, 200);
    assert.is((await deploy(host.url, packed({ small: 64 }))).status, 201);
    // the workers of the first version stop once empty and idle; the next request starts one
    const workers = async () => ((await (await fetch(`${host.url}/_lanes/metrics`, { headers: { accept: "application/json" } })).json()) as { packed: unknown[] }).packed;
    await waitFor(async () => (await workers()).length === 0, "the first version's packed workers stop", 10_000, 100);
    // 128 MB of ArrayBuffers, held 2.5 s: over small's 64 MB (and the 1 MB per packed function)
    const r = await fetch(`${host.url}/small?do=alloc&mb=128&ms=2500`);
    assert.is(r.status, 502, `a worker sized for small alone is recycled, not one sized for big too: ${await r.text()}`);
  } finally {
    await deployHost.stop(0);
  }
});

test("deploys leave no folder of a version no longer served in the store's run/: only the active one's and the one an unchanged function came from", async () => {
  const data = join(scratchDir("data-"), "store");
  const deployHost = await inProcessDeployHost({ dir: versionDir("m1"), data });
  const host = deployHost.host;
  const run = () => readdirSync(join(data, "run")).sort().join(" ");
  try {
    for (let i = 2; i <= DEPLOYS; i++) {
      assert.is((await deploy(host.url, versionDir(`m${i}`))).status, 201);
      assert.is(await (await fetch(`${host.url}/greet-proc`)).text(), `m${i}`);
    }
    // steady is the same in every version: it still runs from v1's folder
    await waitFor(
      () => run() === `v1 v${DEPLOYS}`,
      () => `run/ holds the versions in use, not: ${run()}`,
      10_000,
    );
    for (const [path, text] of [
      ["/greet", `m${DEPLOYS}`],
      ["/greet-proc", `m${DEPLOYS}`],
      ["/steady", "steady"],
    ])
      assert.is(await (await fetch(`${host.url}${path}`)).text(), text);
  } finally {
    await deployHost.stop(0);
  }
});

test.run();
