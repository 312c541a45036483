/**
 * Chaos, part 2: functions that fail. A throw, a rejection or a non-Response is a 500 and the
 * instance lives on; process.exit, an uncaught exception, running out of memory and a signal
 * are 502s for every request on the instance, which is replaced; a function that cannot start
 * answers 503 and backs off. Other functions answer throughout. Both lanes, host on Node, Bun
 * and Deno.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { limitsFor, limitWarnings } from "../runtime/capabilities.ts";
import { assertNoStack, expectError, expectJson, isAlive, measure, sleep, waitFor, assertBystanderServes, poolOf, servingPid, type Who } from "./helpers/chaos.ts";
import { adapter, LANES, startTestHost, type TestHost } from "./helpers/host.ts";

for (const lane of LANES) {
  const test = suite<{ h: TestHost }>(`chaos (${adapter.name} host): crashes, ${lane} lane`);
  const fn = (entry: string, extra: Record<string, unknown> = {}) => ({ entry, lane, ...extra });
  const pool = poolOf;
  const bystander = (h: TestHost) => assertBystanderServes(h, lane);

  test.before(async (ctx) => {
    ctx.h = await startTestHost({
      bystander: fn("chaos-fault.ts", { instances: { min: 1, max: 1 } }),
      fault: fn("chaos-fault.ts", { instances: { min: 1, max: 1 }, concurrency: 8 }),
      oom: fn("chaos-fault.ts", { instances: { min: 1, max: 1 }, memoryMb: 64, timeoutMs: 20_000 }),
      broken: fn("chaos-crash-on-start.ts"),
      // kept warm: the pool itself must try again after each back-off, no request asking it to
      brokenWarm: fn("chaos-crash-on-start.ts", { instances: { min: 1, max: 1 } }),
      // timeoutMs 5000: a start may take 5 s, not the default 15, so a start that never answers
      // (a Deno worker's fault, below) and the one more try it gets fit in the test's wait
      flaky: fn("chaos-dies-after-start.ts", { instances: { min: 1, max: 1 }, timeoutMs: 5000 }),
    });
  });
  test.after(async ({ h }) => h.stop());

  test("a throw, a rejection and a non-Response answer 500 function_error, at once or later; the instance lives on", async ({ h }) => {
    const before = await expectJson<Who>(h.fetch("/fault"));
    const threw = await expectError(await h.fetch("/fault?do=throw"), 500, "function_error");
    assert.match(threw.message, /fixture threw on purpose/);
    const threwAtOnce = await expectError(await h.fetch("/fault?do=throw-at-once"), 500, "function_error");
    assert.match(threwAtOnce.message, /fixture threw at once on purpose/);
    const rejected = await expectError(await h.fetch("/fault?do=reject"), 500, "function_error");
    assert.match(rejected.message, /fixture rejected on purpose/);
    const wrong = await expectError(await h.fetch("/fault?do=not-response"), 500, "function_error");
    assert.match(wrong.message, /returned Object, not a Response/);
    const wrongAtOnce = await expectError(await h.fetch("/fault?do=not-response-at-once"), 500, "function_error");
    assert.match(wrongAtOnce.message, /returned Array, not a Response/);
    // a thenable that is not a Promise is awaited as one
    const thenable = await h.fetch("/fault?do=thenable");
    assert.is(thenable.status, 200);
    assert.is(await thenable.text(), "from a thenable");
    assert.ok(
      h.logs.some((l) => /fixture threw on purpose/.test(l)),
      "the error and its stack are in the host log",
    );
    const after = await expectJson<Who>(h.fetch("/fault"));
    assert.is(after.instance, before.instance, "same instance");
  });

  test("an error whose message or stack is not a string, or an answer whose status text is not, answers 500 function_error, before or after the head; the instance lives on", async ({
    h,
  }) => {
    const before = await expectJson<Who>(h.fetch("/fault"));
    const odd = await expectError(await h.fetch("/fault?do=throw-odd-message"), 500, "function_error");
    assert.match(odd.message, /the function threw: 42/);
    const sites = await expectError(await h.fetch("/fault?do=throw-callsites"), 500, "function_error");
    assert.match(sites.message, /fixture threw with call sites for a stack/);
    const text = await expectError(await h.fetch("/fault?do=odd-status-text"), 500, "function_error");
    assert.match(text.message, /a frame's text is a number, not a string/);
    const streamed = await h.fetch("/fault?do=stream-odd-error");
    assert.is(streamed.status, 200);
    const cut = await streamed.text().then(
      () => "whole",
      () => "cut",
    );
    assert.is(cut, "cut", "a body that failed midway is cut, not ended as if whole");
    const after = await expectJson<Who>(h.fetch("/fault"));
    assert.is(after.instance, before.instance, "same instance");
  });

  test("a streamed body that fails midway with an Error without a message is cut, not ended as if whole", async ({ h }) => {
    const res = await h.fetch("/fault?do=stream-empty-error");
    assert.is(res.status, 200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.is(new TextDecoder().decode(first.value), "first part");
    const rest = await reader.read().then(
      (r) => (r.done ? "ended as if whole" : "more bytes"),
      () => "cut",
    );
    assert.is(rest, "cut");
  });

  test("process.exit() answers 502 instance_crashed to every request in flight on that instance, then a new instance serves", async ({ h }) => {
    const before = await expectJson<Who>(h.fetch("/fault"));
    const beforePid = lane === "process" ? servingPid(h, "fault") : 0;
    const slow = [h.fetch("/fault?do=sleep&ms=5000"), h.fetch("/fault?do=sleep&ms=5000")];
    await sleep(100);
    const t0 = Date.now();
    const crash = h.fetch("/fault?do=exit");
    await bystander(h);
    for (const res of [await crash, ...(await Promise.all(slow))]) {
      const err = await expectError(res, 502, "instance_crashed");
      assert.match(err.message, /exited with code 3/);
    }
    const after = await expectJson<Who>(h.fetch("/fault"));
    measure(`${lane} lane, process.exit: crash to next 200 (replacement started on demand)`, `${Date.now() - t0} ms`);
    assert.is.not(after.instance, before.instance);
    if (lane === "process") assert.ok(!isAlive(beforePid), "the crashed child is gone");
    assert.is(pool(h, "fault").restarts, 1);
    assert.ok(
      h.logs.some((l) => /fault: instance \d+ exited with code 3; replacing it/.test(l)),
      h.logs.join(""),
    );
  });

  test("an exception thrown outside the handler (in a timer) answers 502 naming it; the host logs its stack", async ({ h }) => {
    await expectJson(h.fetch("/fault"));
    const slow = h.fetch("/fault?do=sleep&ms=5000");
    await sleep(50);
    const crash = h.fetch("/fault?do=uncaught");
    await bystander(h);
    for (const res of [await crash, await slow]) {
      const err = await expectError(res, 502, "instance_crashed");
      assert.match(err.message, /crashed: uncaught exception: fixture threw in a timer/);
    }
    assert.ok(
      h.logs.some((l) => /fixture threw in a timer\n\s+at /.test(l)),
      "the stack is in the host log",
    );
    await expectJson(h.fetch("/fault"));
  });

  test("an uncaught exception right after a large answer: the client gets all of it, then the instance is replaced", async ({ h }) => {
    const before = await expectJson<Who>(h.fetch("/fault"));
    const res = await h.fetch("/fault?do=big-then-throw&mb=4");
    assert.is(res.status, 200);
    const body = new Uint8Array(await res.arrayBuffer());
    assert.is(body.byteLength, 4 * 1024 * 1024);
    assert.ok(
      body.every((b) => b === 97),
      "every byte as sent",
    );
    await waitFor(() => h.logs.some((l) => /fixture threw after a large answer/.test(l)), "the crash is in the host log", 5000);
    const after = await expectJson<Who>(h.fetch("/fault"));
    assert.is.not(after.instance, before.instance, "a new instance serves");
  });

  test("a request that comes after an instance said it crashed, while it is still ending, is served by its replacement", async ({ h }) => {
    const before = await expectJson<Who>(h.fetch("/fault"));
    const answered = await h.fetch("/fault?do=throw-then-exit-slowly");
    assert.is(await answered.text(), "answered, about to crash");
    await waitFor(() => h.logs.some((l) => /fixture threw, then exits slowly/.test(l)), "the crash is in the host log", 5000);
    // within the 500 ms the dying instance takes to end
    const after = await expectJson<Who>(h.fetch("/fault"));
    assert.is.not(after.instance, before.instance, "a new instance serves");
  });

  test("an unhandled rejection is logged and does not end the instance", async ({ h }) => {
    const before = await expectJson<Who>(h.fetch("/fault"));
    const during = await expectJson<Who>(h.fetch("/fault?do=unhandled"));
    await sleep(50);
    const after = await expectJson<Who>(h.fetch("/fault"));
    assert.is(during.instance, before.instance);
    assert.is(after.instance, before.instance, "the same instance still serves");
    assert.ok(
      h.logs.some((l) => /unhandled rejection: .*fixture left this rejection unhandled/.test(l)),
      h.logs.join(""),
    );
  });

  test("running out of memory answers 502 where memoryMb is enforced; where it is not, the host says so", async ({ h }) => {
    const spec = pool(h, "oom").spec;
    if (limitsFor(spec, adapter).heap === "not enforced") {
      // Bun ignores worker heap limits: running the fixture would grow the host itself
      assert.match(limitWarnings([spec], adapter)[0] ?? "", /memoryMb is not enforced on bun in the isolate lane .* for: oom; to enforce it, set "lane": "process"/);
      const line = h.logs.find((l) => /memoryMb is not enforced/.test(l)) ?? "";
      assert.match(line, /for: [^;]*\boom\b/, "the start-up log names the function");
      return;
    }
    const before = await expectJson<Who>(h.fetch("/oom"));
    const t0 = Date.now();
    const [res] = await Promise.all([h.fetch("/oom?do=oom"), bystander(h)]);
    const err = await expectError(res, 502, "instance_crashed");
    assert.match(err.message, /ran out of memory/);
    measure(`${lane} lane, memoryMb 64: allocation loop to 502`, `${Date.now() - t0} ms (${err.message})`);
    await waitFor(() => pool(h, "oom").live() === 1, "a replacement is ready", 10_000);
    const after = await expectJson<Who>(h.fetch("/oom"));
    assert.is.not(after.instance, before.instance);
  });

  if (lane === "process") {
    test("a child killed by a signal answers 502 for what it was running, and is replaced", async ({ h }) => {
      const before = await expectJson<Who>(h.fetch("/fault"));
      const beforePid = servingPid(h, "fault");
      const slow = h.fetch("/fault?do=sleep&ms=5000");
      await sleep(100);
      const t0 = Date.now();
      process.kill(beforePid, "SIGKILL");
      const err = await expectError(await slow, 502, "instance_crashed");
      assert.match(err.message, /killed by SIGKILL/);
      await bystander(h);
      await waitFor(() => pool(h, "fault").live() === 1, "a replacement is ready");
      const after = await expectJson<Who>(h.fetch("/fault"));
      measure(`process lane, SIGKILL: kill to replacement answering (min 1 restarts it at once)`, `${Date.now() - t0} ms`);
      assert.is.not(after.instance, before.instance);
      assert.is.not(servingPid(h, "fault"), beforePid);
      assert.ok(!isAlive(beforePid), "the killed child is gone");
    });
  }

  test("a function that cannot start answers 503 unavailable at once, backs off exponentially, and logs the error", async ({ h }) => {
    const waits = () => h.logs.filter((l) => /broken: cannot start/.test(l)).map((l) => Number(/backing off (\d+) ms/.exec(l)?.[1]));
    // the host loaded it once at start-up, found it broken and backs off from there (`flaky`,
    // which crash-loops, is listed or not depending on where its loop is when the check ends)
    const broken = (await h.host.checked).map((f) => f.spec.name);
    assert.ok(broken.includes("broken") && !broken.includes("fault"), broken.join(", "));
    assert.equal(waits(), [250]);
    await sleep(270);
    const [first] = await Promise.all([h.fetch("/broken"), bystander(h)]);
    assert.ok(first.headers.get("retry-after"), "Retry-After");
    const err = await expectError(first, 503, "unavailable");
    assert.match(err.message, /function "broken" cannot start: its module failed to load: fixture cannot start: missing CONFIG/);
    assert.equal(waits(), [250, 500]);
    // during the back-off: answered at once, without starting another instance. The back-off
    // runs 500 ms from the failure the host just logged; a request held until its end would be
    // answered after it (and find the host trying again). Checked against the host's own clock,
    // so a loaded machine that is slow to send the five cannot fake a failure
    const failedAt = h.logTimes[h.logs.findLastIndex((l) => /broken: cannot start.*backing off 500 ms/.test(l))]!;
    const until = failedAt + 500;
    const sent: number[] = [];
    const answered: number[] = [];
    for (let i = 0; i < 5; i++) {
      sent.push(Date.now());
      await expectError(await h.fetch("/broken"), 503, "unavailable");
      answered.push(Date.now());
    }
    assert.ok(sent[0]! < until - 100, `the first 503 was asked for ${sent[0]! - failedAt} ms into the 500 ms back-off`);
    for (let i = 0; i < 5; i++) {
      if (sent[i]! < until - 100)
        assert.ok(answered[i]! < until, `a 503 asked for ${sent[i]! - failedAt} ms into the back-off came ${answered[i]! - failedAt} ms in, after it ended`);
    }
    if (answered[4]! < until) assert.equal(waits(), [250, 500], "no start while the back-off lasts");
    // each try after a back-off doubles the next one
    await sleep(520);
    await expectError(await h.fetch("/broken"), 503, "unavailable");
    assert.equal(waits(), [250, 500, 1000]);
    assert.ok(h.logs.some((l) => /fixture cannot start: missing CONFIG/.test(l) && /failure\(s\) in a row/.test(l)));
    await bystander(h);
  });

  test("a function kept warm (min 1) that cannot start keeps trying on its own, backing off each time", async ({ h }) => {
    const lines = () => h.logs.filter((l) => /brokenWarm: cannot start/.test(l));
    // 250 + 500 ms after the first failure the third comes, with no request sent
    await waitFor(
      () => lines().length >= 3,
      () => `three failed starts; the host's lines about brokenWarm:\n${lines().join("")}`,
      10_000,
    );
    assert.equal(
      lines()
        .slice(0, 3)
        .map((l) => Number(/backing off (\d+) ms/.exec(l)?.[1])),
      [250, 500, 1000],
    );
    assert.ok(
      lines().every((l) => /its module failed to load: fixture cannot start: missing CONFIG/.test(l)),
      lines().join(""),
    );
    await bystander(h);
  });

  test("an instance that dies right after starting, again and again, backs off instead of looping", async ({ h }) => {
    // `flaky` (min 1) has been crash-looping since the host started
    // the back-off itself is checked below, to the millisecond; this is how long three starts of
    // a worker may take: a start that goes silent (../adapters/README.md, Workers) counts as
    // failed only once the pool has given up on it and on its one more try, 5 s each here
    const flakyLines = () => h.logs.filter((l) => l.includes("flaky")).join("");
    // on failure, what the host said about it, to tell a slow machine from a start that never ended
    await waitFor(
      () => h.logs.filter((l) => /flaky: cannot start/.test(l)).length >= 3,
      () => `three failed starts; the host's lines about flaky:\n${flakyLines()}`,
      30_000,
    );
    const waits = h.logs.filter((l) => /flaky: cannot start/.test(l)).map((l) => Number(/backing off (\d+) ms/.exec(l)?.[1]));
    assert.equal(waits.slice(0, 3), [250, 500, 1000]);
    assert.ok(
      // (named "while starting" when it died before the host had taken its load's answer)
      h.logs.some((l) => /flaky: cannot start \(instance crashed: uncaught exception: fixture died on its own (right after|while) starting\)/.test(l)),
      flakyLines(),
    );
    const res = await h.fetch("/flaky");
    // between two attempts it is down (503), or a fresh instance answers before it dies again
    assert.ok(res.status === 503 || res.status === 200 || res.status === 502, `got ${res.status}`);
    assertNoStack(await res.text());
    await bystander(h);
  });

  test.run();
}
