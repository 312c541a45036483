/**
 * A process-lane child that floods its host with small frames it writes itself
 * (test/fixtures/fns/hostile-channel.ts, ?do=frame-flood): the host reads each child in turns, so
 * other functions keep being served, and a child sending frames the host never asked for is
 * stopped. Host on Node, Bun and Deno.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { expectJson, measure, poolOf, waitFor } from "./helpers/chaos.ts";
import { FRAMES_PER_TURN, TURN_MS } from "../runtime/channel/stream-end.ts";
import { adapter, startTestHost, type TestHost } from "./helpers/host.ts";

const test = suite<{ h: TestHost }>(`a child flooding its channel with small frames (${adapter.name} host)`);

test.before(async (ctx) => {
  ctx.h = await startTestHost({
    hostile: { entry: "hostile-channel.ts", lane: "process", instances: { min: 1, max: 1 } },
    bystander: { entry: "chaos-fault.ts", lane: "process" },
  });
  await expectJson(ctx.h.fetch("/bystander"));
});
test.after(async ({ h }) => h.stop());

/** Sequential requests to the bystander for `ms`: how many were answered, and the slowest. */
async function serveBystander(h: TestHost, ms: number): Promise<{ answered: number; slowest: number }> {
  let answered = 0;
  let slowest = 0;
  for (const until = Date.now() + ms; Date.now() < until; answered++) {
    const t = Date.now();
    await expectJson(h.fetch("/bystander"));
    slowest = Math.max(slowest, Date.now() - t);
  }
  return { answered, slowest };
}

for (const kind of ["pong", "end"] as const) {
  const what = kind === "pong" ? "pongs to pings the host never sent" : "ends of requests the host never sent";
  test(`a child that floods its host with ${what} is stopped and replaced, the log says why; another function is served meanwhile`, async ({ h }) => {
    const instance = poolOf(h, "hostile").instances[0]!;
    const logged = h.logs.length;
    assert.is(await (await h.fetch(`/hostile?do=frame-flood&kind=${kind}&ms=20000`)).text(), "ok");
    const bystander = serveBystander(h, 1000);
    await waitFor(() => poolOf(h, "hostile").instances[0] !== instance, "the flooding instance is replaced", 10_000);
    const line = h.logs.slice(logged).find((l) => l.includes("never asked for"));
    assert.ok(line, h.logs.slice(logged).join("\n"));
    assert.match(line, /hostile: instance \d+ sent more than 1000 frames within a second that the host never asked for/);
    const { answered, slowest } = await bystander;
    measure(`bystander while a child flooded ${what}`, `${answered} sequential requests in 1 s, slowest ${slowest} ms`);
    assert.ok(slowest < 2000, `a bystander request took ${slowest} ms`);
    assert.is(await (await h.fetch("/hostile")).text(), "ok", "the function serves again");
  });
}

test("a child that floods its host with console lines is read in turns: at most FRAMES_PER_TURN of them a millisecond, and another function keeps being answered", async ({
  h,
}) => {
  const instance = poolOf(h, "hostile").instances[0]!;
  const logged = h.logs.length;
  assert.is(await (await h.fetch("/hostile?do=frame-flood&kind=log&ms=3000")).text(), "ok");
  await waitFor(() => h.logs.slice(logged).some((l) => l.includes("hostile writes more than")), "the flood is under way", 5000);
  const { answered, slowest } = await serveBystander(h, 2000);
  measure("bystander while a child flooded console lines", `${answered} sequential requests in 2 s, slowest ${slowest} ms`);
  assert.ok(slowest < 2000, `a bystander request took ${slowest} ms`);
  // each second's lines past the first 1,000 are dropped, and the log counts them: what the host decoded
  await waitFor(() => h.logs.slice(logged).filter((l) => / line\(s\) of its output were dropped/.test(l)).length >= 2, "two seconds of the flood are counted", 10_000);
  const decoded = h.logs
    .slice(logged)
    .map((l) => / (\d+) line\(s\) of its output were dropped/.exec(l))
    .filter((m) => m !== null)
    .map((m) => Number(m[1]) + 1000);
  measure("console lines a host decoded from a flooding child, a second at a time", decoded.join(", "));
  // a host that read the child as it came decoded 1.9 to 2.3 million a second
  const most = FRAMES_PER_TURN * (1000 / TURN_MS) + FRAMES_PER_TURN;
  for (const n of decoded) assert.ok(n <= most, `the host decoded ${n} lines of the child in a second, over the ${most} it reads in turns`);
  // console lines are the function's to write: it is not stopped for them
  assert.is(poolOf(h, "hostile").instances[0], instance);
});

test.run();
