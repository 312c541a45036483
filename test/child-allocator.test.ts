/**
 * Each process-lane child's allocator is told to keep what it frees (adapters/child-args.ts,
 * allocatorEnv): with their own thresholds, node and deno children (glibc) and bun children
 * (mimalloc) gave memory back between bursts of large bodies and faulted it in again, page by
 * page. Read here from the real children's /proc/PID/environ, one function per child runtime,
 * with a memoryMb under glibc's cap so the trim threshold follows it; the function itself sees
 * only its manifest's env.
 */
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectJson, servingPid } from "./helpers/chaos.ts";
import { startTestHost } from "./helpers/host.ts";

const MB = 1 << 20;
const GLIBC = { MALLOC_MMAP_THRESHOLD_: String(4 * MB), MALLOC_TRIM_THRESHOLD_: String(64 * MB), MALLOC_TOP_PAD_: String(16 * MB) };
const WANT: Record<string, Record<string, string>> = { node: GLIBC, deno: GLIBC, bun: { MIMALLOC_PURGE_DELAY: "-1" } };

function environOf(pid: number): Record<string, string> {
  const pairs = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
  return Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
}

test("every child runtime starts with its allocator told to keep what it frees, which its function does not see", async () => {
  const fns = Object.fromEntries(
    Object.keys(WANT).map((rt) => [`a-${rt}`, { entry: "env.ts", lane: "process", runtime: rt, memoryMb: 64, instances: { max: 1 }, env: { GREETING: rt } }]),
  );
  const h = await startTestHost(fns, { top: { sandbox: "off" } });
  try {
    for (const [rt, want] of Object.entries(WANT)) {
      const got = await expectJson<{ env: Record<string, string>; processEnv: Record<string, string> }>(h.fetch(`/a-${rt}`));
      assert.equal(got.processEnv, { GREETING: rt }, `${rt}: the function's process.env is its manifest's`);
      const environ = environOf(servingPid(h, `a-${rt}`));
      for (const [name, value] of Object.entries(want)) assert.is(environ[name], value, `${rt} child: ${name}`);
    }
  } finally {
    await h.stop();
  }
});

test.run();
