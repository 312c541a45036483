/**
 * A function that writes to its console in a loop, in either lane: its guest sends the host at
 * most FN_LINES_PER_SECOND lines a second, each cut at FN_LINE_MAX_CHARS, and counts the rest,
 * so the host does not decode what it would drop; the log still says how many were dropped, also
 * when the function writes nothing after, and another function keeps answering meanwhile.
 * (A child that writes its frames itself meets the host's own budget: channel-floods.test.ts.)
 * Host on Node, Bun and Deno.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { GuestToHost } from "../runtime/channel/frames.ts";
import type { GuestLink } from "../runtime/lanes/lane.ts";
import { FN_LINE_MAX_CHARS, FN_LINES_PER_SECOND } from "../runtime/log.ts";
import { expectJson, measure, poolOf, waitFor } from "./helpers/chaos.ts";
import { adapter, LANES, startLaneHosts, type Lane, type TestHost } from "./helpers/host.ts";

const test = suite<{ hosts: Record<Lane, TestHost> }>(`a function flooding its console (${adapter.name} host)`);

test.before(async (ctx) => {
  ctx.hosts = await startLaneHosts((lane) => ({
    logger: { entry: "console-flood.ts", lane, instances: { min: 1, max: 1 } },
    bystander: { entry: "chaos-fault.ts", lane },
  }));
  await Promise.all(LANES.map((lane) => expectJson(ctx.hosts[lane].fetch("/bystander"))));
});
test.after(async ({ hosts }) => {
  await Promise.all(LANES.map((lane) => hosts[lane].stop()));
});

/** The console lines that reach the host from the logger's instance, as they arrive. */
function watchLines(h: TestHost): { count: number; longest: number; first: number; last: number } {
  const seen = { count: 0, longest: 0, first: 0, last: 0 };
  const { link } = poolOf(h, "logger").instances[0] as unknown as { link: GuestLink };
  link.end.onFrame((f: GuestToHost) => {
    if (f.t !== "log" || f.level === "dropped") return;
    seen.count++;
    seen.longest = Math.max(seen.longest, f.text.length);
    seen.last = Date.now();
    seen.first ||= seen.last;
  });
  return seen;
}

/** Flood lines of the logger in the log since `from`, and the lines the host says were dropped. */
function tally(h: TestHost, from: number): { logged: number; dropped: number } {
  const lines = h.logs.slice(from);
  const logged = lines.filter((l) => /^\[logger[^\]]*\] flood line \d+$/.test(l.trimEnd())).length;
  const dropped = lines.map((l) => /function logger: (\d+) line\(s\) of its output were dropped/.exec(l)).reduce((sum, m) => sum + (m ? Number(m[1]) : 0), 0);
  return { logged, dropped };
}

/**
 * How long the logger floods: long enough to write well past what the host takes in that time.
 * A worker's console.log is slow (some 1,800 lines a second on a loaded 2-core VM, seen passing
 * a second's bound of 2,000 with the guest's limit off); a child writes 40,000 in a second.
 */
const FLOOD_MS: Record<Lane, number> = { isolate: 2000, process: 1000 };

for (const lane of LANES) {
  test(`${lane} lane: a function logging in a loop sends its host at most ${FN_LINES_PER_SECOND} lines a second, the log counts the rest, another function keeps answering`, async ({
    hosts,
  }) => {
    const h = hosts[lane];
    const from = h.logs.length;
    const seen = watchLines(h);
    assert.is(await (await h.fetch(`/logger?ms=${FLOOD_MS[lane]}`)).text(), "ok");
    let answered = 0;
    // the bystander every 50 ms while it floods, which shows it answering as well as a loop as fast as it goes, for less CPU
    while (!h.logs.slice(from).some((l) => l.includes("console flood done"))) {
      await expectJson(h.fetch("/bystander"));
      answered++;
      await new Promise((r) => setTimeout(r, 50));
    }
    const written = Number(/console flood done: (\d+)/.exec(h.logs.slice(from).find((l) => l.includes("console flood done"))!)![1]);
    await waitFor(
      () => tally(h, from).logged + tally(h, from).dropped === written,
      () => `${written} lines written: ${JSON.stringify(tally(h, from))} logged and counted as dropped`,
      5000,
    );
    const seconds = Math.floor(seen.last / 1000) - Math.floor(seen.first / 1000) + 1;
    measure(
      `${lane} lane, lines a function wrote in ${FLOOD_MS[lane] / 1000} s, and those that reached the host`,
      `${written}, ${seen.count} (${answered} bystander requests meanwhile)`,
    );
    // a second's lines may arrive in the next: one second more
    assert.ok(seen.count <= FN_LINES_PER_SECOND * (seconds + 1), `${seen.count} lines reached the host in ${seconds} s`);
    assert.ok(answered > 0);
  });

  test(`${lane} lane: lines dropped in a burst are counted in the log though the function writes nothing after`, async ({ hosts }) => {
    const h = hosts[lane];
    const from = h.logs.length;
    assert.is(await (await h.fetch("/logger?n=5000")).text(), "ok");
    await waitFor(
      () => tally(h, from).logged + tally(h, from).dropped === 5000,
      () => `5000 lines written: ${JSON.stringify(tally(h, from))} logged and counted as dropped`,
      5000,
    );
    assert.ok(tally(h, from).dropped >= 5000 - 2 * FN_LINES_PER_SECOND, JSON.stringify(tally(h, from)));
  });

  test(`${lane} lane: a long line is cut at ${FN_LINE_MAX_CHARS} characters before it reaches the host`, async ({ hosts }) => {
    const h = hosts[lane];
    const from = h.logs.length;
    const seen = watchLines(h);
    assert.is(await (await h.fetch("/logger?big=4")).text(), "ok");
    const cut = `${"x".repeat(FN_LINE_MAX_CHARS)} ... (${4 * 1024 * 1024 - FN_LINE_MAX_CHARS} more characters cut)`;
    await waitFor(() => h.logs.slice(from).some((l) => l.trimEnd().endsWith(cut)), "the cut line is in the log");
    assert.is(seen.longest, cut.length);
  });
}

test.run();
