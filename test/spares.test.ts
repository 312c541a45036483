/**
 * Warm spares of the process lane: children started ahead with no function; a cold function's
 * first request takes one (it gets the bundle and the env then) and a new spare replaces it. A
 * function whose sandbox a spare does not have starts a child of its own. Host on Node, Bun
 * and Deno, children on the host's runtime.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { expectJson, guestPids, servingPid, waitFor } from "./helpers/chaos.ts";
import { adapter, startTestHost, type TestHost } from "./helpers/host.ts";

const test = suite<{ h: TestHost }>(`warm spares (${adapter.name} host)`);

test.before(async (ctx) => {
  ctx.h = await startTestHost({
    env: { entry: "env.ts", lane: "process", env: { GREETING: "hi" } },
    net: { entry: "chaos-fault.ts", lane: "process", permissions: { net: true } },
  });
  await ctx.h.host.checked;
});
test.after(async ({ h }) => {
  await h.stop();
  assert.equal(guestPids(), [], "no spare outlives the host");
});

/** Children that are spares now (no function's instance). */
const ready = (h: TestHost) => h.host.spares.describe().reduce((n, s) => n + s.ready, 0);
const instancePids = (h: TestHost) => h.host.functions.flatMap((f) => f.pool!.instances.map((i) => i.pid()));
const sparePids = (h: TestHost) => guestPids().filter((p) => !instancePids(h).includes(p));

test("a cold process-lane function is served by a warm spare, which gets its env at load and is replaced at once", async ({ h }) => {
  await waitFor(() => ready(h) > 0 && h.host.functions.every((f) => f.pool!.instances.length === 0), "a spare is ready, no instance runs", 15_000);
  const before = sparePids(h);
  assert.ok(before.length > 0, "spares run");
  const got = await expectJson<{ env: Record<string, string>; processEnv: Record<string, string>; denoEnv: Record<string, string> | null; bunEnv: Record<string, string> | null }>(
    h.fetch("/env"),
  );
  assert.equal(got.env, { GREETING: "hi" });
  assert.equal(got.processEnv, { GREETING: "hi" }, "process.env is the function's env, nothing the spare started with");
  if (got.denoEnv) assert.equal(got.denoEnv, { GREETING: "hi" }, "Deno.env too");
  if (got.bunEnv) assert.equal(got.bunEnv, { GREETING: "hi" }, "Bun.env too");
  const pid = servingPid(h, "env");
  assert.ok(before.includes(pid), `served by the spare ${pid} (spares were ${before.join(", ")})`);
  await waitFor(() => ready(h) > 0 && sparePids(h).some((p) => !before.includes(p)), "a new spare replaces it", 15_000);
});

test("a function whose sandbox a spare does not have (network access) starts a child of its own", async ({ h }) => {
  await waitFor(() => ready(h) > 0, "a spare is ready", 15_000);
  const spares = sparePids(h);
  await expectJson(h.fetch("/net"));
  assert.not.ok(spares.includes(servingPid(h, "net")), "not a spare");
  assert.equal(sparePids(h).filter((p) => spares.includes(p)).length, spares.length, "the spares are still there");
});

test.run();
