/**
 * The fidelity fixes of issue 12 that only a real host process shows: what it logs when a
 * streamed response is cut (a line, never a raw error dump), and that SIGTERM lets
 * ctx.waitUntil work finish within the shutdown grace and logs what it had to cut. Both lanes,
 * with the CLI on the runtime running this file (test/run.mjs runs it on Node, Bun and Deno).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { rmSync } from "node:fs";
import { startCli, type RunningCli } from "./helpers/cli.ts";
import { isAlive, waitFor } from "./helpers/chaos.ts";
import { adapter, makeFunctionsDir } from "./helpers/host.ts";
import { openRequest, within } from "./helpers/raw-stream.ts";

const LANES = ["isolate", "process"] as const;
// probe-*: a stream runs into its timeoutMs; wait-*: answers at once, its waitUntil work goes on
const dir = makeFunctionsDir(
  Object.fromEntries(
    LANES.flatMap((lane) => [
      // long enough for the head to go out first on a loaded machine
      [`probe-${lane}`, { entry: "fidelity-probe.ts", lane, timeoutMs: 2000, instances: { min: 1, max: 1 } }],
      [`wait-${lane}`, { entry: "fidelity-probe.ts", lane, instances: { min: 1, max: 1 } }],
    ]),
  ),
);
/** What a raw error object printed by a server looks like: stack frames, an error's own fields. */
const RAW_DUMP = /^\s+at |LanesError|\[cause\]|^\s*code: '/m;
let cli: RunningCli;

test.before(async () => {
  // pretty lines: the assertions read the log as text
  cli = await startCli(["start", dir, "--port", "0", "--log", "pretty"]);
});
test.after(() => {
  // a CLI that failed to start is not there: the run shows its error, not a TypeError from here
  if (cli !== undefined && isAlive(cli.pid)) cli.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

test(`a stream that runs past timeoutMs reaches the client cut short and is logged as one line, no raw error dump (${adapter.name} host)`, async () => {
  for (const lane of LANES) {
    const req = openRequest(cli.url, `/probe-${lane}?do=stall`);
    const head = await within(req.head, 15_000, `${lane}: the head`);
    const id = /\r\nx-request-id: ([0-9a-f-]{36})/i.exec(head)?.[1];
    assert.ok(id, head);
    assert.match(head, /^HTTP\/1\.1 200 /, lane);
    await within(req.closed, 8000, `${lane}: the connection closes once the deadline passes`);
    assert.match(req.received(), /one chunk, then nothing/, lane);
    assert.not.match(req.received(), /\r\n0\r\n\r\n$/, `${lane}: the body must end cut short, not cleanly`);
    // what the server printed when it cut the stream would be there by now
    await new Promise((r) => setTimeout(r, 300));
    assert.not.match(cli.output(), RAW_DUMP, `a raw error dump in the host output:\n${cli.output()}`);
    const line = new RegExp(`probe-${lane}: the response to request ${id} was cut short after its head was sent: function "probe-${lane}" did not answer within 2000 ms`);
    await waitFor(() => line.test(cli.output()), `${lane}: the log line`, 3000);
  }
});

test(`SIGTERM lets ctx.waitUntil work finish within the grace, logs what it cut, and exits 0 (${adapter.name} host)`, async () => {
  const ids: Record<string, { quick: string; long: string }> = {};
  for (const lane of LANES) {
    const quick = await fetch(`${cli.url}/wait-${lane}?do=after&ms=1000`);
    const long = await fetch(`${cli.url}/wait-${lane}?do=after&ms=60000`);
    assert.is(await quick.text(), "answered; work continues");
    await long.text();
    ids[lane] = { quick: quick.headers.get("x-request-id")!, long: long.headers.get("x-request-id")! };
  }
  cli.kill("SIGTERM");
  assert.equal(await cli.exited, { code: 0, signal: null }, cli.output());
  const out = cli.output();
  for (const lane of LANES) {
    assert.match(out, new RegExp(`waitUntil done ${ids[lane]!.quick}`), `${lane}: the 1 s waitUntil work finished before the exit:\n${out}`);
    assert.not.match(out, new RegExp(`waitUntil done ${ids[lane]!.long}`), lane);
    const cut = new RegExp(`wait-${lane}: instance \\d+ stopped with 1 ctx.waitUntil task\\(s\\) unfinished \\(request ${ids[lane]!.long}\\): the grace to finish them ran out`);
    assert.match(out, cut, `${lane}: the log names what was cut:\n${out}`);
  }
  assert.not.match(out, RAW_DUMP, `a raw error dump in the host output:\n${out}`);
});

test.run();
