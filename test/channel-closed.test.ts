/**
 * A process-lane child that closes its channel to the host (its stdin or its stdout, reopened on
 * a file) and runs on. The host must notice (the memory watchdog reads the child's descriptors
 * in /proc: adapters/channel-fds.ts), answer what it was running with 502 well before timeoutMs,
 * and serve the next request from a fresh child; inside the sandbox no pipe ever ends, as bwrap
 * holds both. Before, each such request waited for timeoutMs (504). Node and bun children, in
 * and out of the sandbox (a deno child cannot close its stdio from JavaScript: it crashes, or
 * the close does nothing); host on Node, Bun and Deno. Needs bubblewrap.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { expectError, measure } from "./helpers/chaos.ts";
import { adapter, startTestHost, type TestHost } from "./helpers/host.ts";

const TIMEOUT_MS = 20_000;
/** Well before timeoutMs: the watchdog looks every 250 ms. */
const PROMPT_MS = 5_000;
const CHILDREN = ["node", "bun"] as const;
const SANDBOX = ["required", "off"] as const;
const name = (runtime: string, sandbox: string, fd: number) => `${runtime}-${sandbox === "off" ? "bare" : "sandboxed"}-fd${fd}`;

const test = suite<{ h: TestHost }>(`a child that closes its channel to the host (${adapter.name} host)`);

test.before(async (ctx) => {
  const functions: Record<string, Record<string, unknown>> = {
    bystander: { entry: "chaos-fault.ts", lane: "process" },
  };
  for (const runtime of CHILDREN)
    for (const sandbox of SANDBOX)
      for (const fd of [0, 1])
        functions[name(runtime, sandbox, fd)] = {
          entry: "close-channel.ts",
          lane: "process",
          runtime,
          sandbox,
          timeoutMs: TIMEOUT_MS,
          instances: { min: 0, max: 1 },
          permissions: { write: ["sink.txt"] },
        };
  for (const sandbox of SANDBOX)
    functions[`at-load-${sandbox === "off" ? "bare" : "sandboxed"}`] = {
      entry: "close-channel-at-load.ts",
      lane: "process",
      runtime: "node",
      sandbox,
      timeoutMs: TIMEOUT_MS,
      instances: { min: 0, max: 1 },
      permissions: { write: ["sink.txt"] },
    };
  ctx.h = await startTestHost(functions, { extraFiles: { "sink.txt": "" } });
});
test.after(async ({ h }) => h.stop());

/** Asserts the case; resolves with how long the request that closed the channel waited for its 502. */
async function closesChannel(h: TestHost, fn: string, fd: number): Promise<number> {
  const first = await (await h.fetch(`/${fn}`)).text();
  assert.match(first, /^ok /, `${fn}: ${first}`);
  const started = Date.now();
  const res = await h.fetch(`/${fn}?fd=${fd}`);
  const took = Date.now() - started;
  const err = await expectError(res, 502, "instance_crashed");
  assert.match(err.message, new RegExp(`closed its channel to the host: its fd ${fd} \\(std${fd === 0 ? "in" : "out"}`), `${fn}: ${err.message}`);
  assert.ok(took < PROMPT_MS, `${fn}: answered after ${took} ms (timeoutMs ${TIMEOUT_MS})`);
  const next = await (await h.fetch(`/${fn}`)).text();
  assert.match(next, /^ok /, `${fn}: the next request is served: ${next}`);
  assert.is.not(next, first, `${fn}: from a fresh child`);
  return took;
}

for (const fd of [1, 0]) {
  test(`a child that closes its ${fd === 0 ? "stdin" : "stdout"} and runs on: its request gets 502 at once, the next is served by a fresh child, the others serve on`, async ({
    h,
  }) => {
    const cases = CHILDREN.flatMap((runtime) => SANDBOX.map((sandbox) => name(runtime, sandbox, fd)));
    const bystander = h.fetch("/bystander?do=sleep&ms=300");
    const took = await Promise.all(cases.map((fn) => closesChannel(h, fn, fd)));
    measure(`502 after a child closed its fd ${fd}`, cases.map((fn, i) => `${fn} ${took[i]} ms`).join(", "));
    assert.is((await bystander).status, 200);
    assert.is((await h.fetch("/bystander")).status, 200);
  });
}

test("a child that closes its stdout as its module loads: its request gets 503 at once, saying why, not a 504 at timeoutMs", async ({ h }) => {
  for (const fn of ["at-load-sandboxed", "at-load-bare"]) {
    const started = Date.now();
    const err = await expectError(await h.fetch(`/${fn}`), 503, "unavailable");
    const took = Date.now() - started;
    assert.match(err.message, /cannot start: instance closed its channel to the host: its fd 1 \(stdout/, `${fn}: ${err.message}`);
    assert.ok(took < PROMPT_MS, `${fn}: answered after ${took} ms`);
  }
  assert.is((await h.fetch("/bystander")).status, 200);
});

test.run();
