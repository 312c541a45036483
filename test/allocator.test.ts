/**
 * Allocators told to keep what they free (adapters/allocator.ts): with their own thresholds,
 * node and deno processes (glibc) and bun processes (mimalloc) gave memory back between bursts
 * of large bodies and faulted it in again, page by page.
 * - Each process-lane child (adapters/child-args.ts, allocatorEnv): read from the real
 *   children's /proc/PID/environ, one function per child runtime, with a memoryMb under glibc's
 *   cap so the trim threshold follows it; the function itself sees only its manifest's env.
 * - A Deno host (adapters/malloc-trim.ts, keepFreedMemory, through `mallopt`): with glibc's own
 *   thresholds it faulted 11 times a 256 KiB echo relayed through the process lane, and spent a
 *   tenth more CPU on it. Checked in the host (it runs in this process) through glibc's own
 *   figures (below). Node and Bun hosts keep their runtime's allocator as it is
 *   (../adapters/README.md, Memory).
 */
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectJson, measure, servingPid } from "./helpers/chaos.ts";
import { keepFreedMemory } from "../adapters/malloc-trim.ts";
import { adapter, startTestHost } from "./helpers/host.ts";

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

/** glibc's malloc, free and mallinfo2 through Deno's FFI (mallinfo2's ten size_t fields: hblkhd, the bytes in mappings of their own, 5th; keepcost 10th). */
function glibcMalloc() {
  const ffi = (globalThis as unknown as { Deno: { dlopen(path: string, s: object): { symbols: Record<string, (...a: unknown[]) => unknown> } } }).Deno;
  const { symbols } = ffi.dlopen("libc.so.6", {
    malloc: { parameters: ["usize"], result: "pointer" },
    free: { parameters: ["pointer"], result: "void" },
    mallinfo2: { parameters: [], result: { struct: Array(10).fill("usize") } },
  });
  const info = () => {
    const v = new BigUint64Array((symbols.mallinfo2!() as Uint8Array).slice().buffer);
    return { mmapped: Number(v[4]), keepcost: Number(v[9]) };
  };
  return { malloc: (n: number) => symbols.malloc!(n), free: (p: unknown) => symbols.free!(p), info };
}

// the setting is the Deno host's alone (Node 20 has no FFI; Bun allocates with mimalloc). Its
// effect, fewer page faults and less CPU a relayed body, is measured in ../adapters/README.md
// (Memory): a bound on faults a request passed on a quiet machine and failed in full runs, where
// both a tuned host and one with glibc's thresholds faulted more the fewer requests they served.
// So the test checks what glibc does in the host: blocks of 2 MB come from its heap, not from a
// mapping of their own (glibc's own threshold is 128 KiB), and 16 MB freed at the heap's top stay
// there (its own trim threshold gives back all but 128 KiB).
if (adapter.name === "deno")
  test("a Deno host has glibc keep what it frees: 2 MB blocks from its heap, 16 MB freed kept; not where the operator set MALLOC_*", async () => {
    const h = await startTestHost({ echo: { entry: "echo.ts", lane: "isolate" } });
    try {
      assert.is((await h.fetch("/echo")).status, 200);
      const g = glibcMalloc();
      const before = g.info();
      const blocks = Array.from({ length: 8 }, () => g.malloc(2 * MB));
      const held = g.info();
      for (const b of blocks.reverse()) g.free(b);
      const after = g.info();
      measure("deno host: bytes mapped for 8 blocks of 2 MB / freed bytes kept at the heap's top", `${held.mmapped - before.mmapped} / ${after.keepcost}`);
      assert.is(held.mmapped - before.mmapped, 0, "no 2 MB block has a mapping of its own");
      assert.ok(after.keepcost >= 16 * MB, `${after.keepcost} bytes kept at the heap's top after 16 MB were freed`);
      assert.not.ok(keepFreedMemory({ MALLOC_PERTURB_: "0" }), "an operator's MALLOC_* leaves glibc as it says");
    } finally {
      await h.stop();
    }
  });

test.run();
