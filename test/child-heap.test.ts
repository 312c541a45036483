/**
 * A deno child's V8 is told where to first collect its old generation: half its heap cap, at
 * most 64 MB (adapters/child-args.ts, initialOldSpaceMb). Without it, under a stream of large
 * bodies a deno child ran one full collection after another (adapters/README.md, Child
 * processes). Read here from the real children's /proc/PID/cmdline, beside the heap cap, for two
 * `memoryMb`s; the functions answer as before.
 */
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectJson, servingPid } from "./helpers/chaos.ts";
import { startTestHost } from "./helpers/host.ts";

function v8FlagsOf(pid: number): string | undefined {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8")
    .split("\0")
    .find((a) => a.startsWith("--v8-flags="));
}

test("a deno child starts with its heap cap and its first old-generation limit, half the cap and at most 64 MB", async () => {
  const sizes: Record<string, [number, string]> = {
    big: [128, "--v8-flags=--max-old-space-size=128,--initial-old-space-size=64"],
    small: [40, "--v8-flags=--max-old-space-size=40,--initial-old-space-size=20"],
  };
  const fns = Object.fromEntries(
    Object.entries(sizes).map(([name, [memoryMb]]) => [name, { entry: "env.ts", lane: "process", runtime: "deno", memoryMb, instances: { max: 1 }, env: { GREETING: name } }]),
  );
  const h = await startTestHost(fns, { top: { sandbox: "off" } });
  try {
    for (const [name, [, flags]] of Object.entries(sizes)) {
      const got = await expectJson<{ processEnv: Record<string, string> }>(h.fetch(`/${name}`));
      assert.equal(got.processEnv, { GREETING: name }, `${name}: the function answers`);
      assert.is(v8FlagsOf(servingPid(h, name)), flags, `${name}: the deno child's V8 flags`);
    }
  } finally {
    await h.stop();
  }
});

test.run();
