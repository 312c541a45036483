/**
 * Allocators told to keep what they free (adapters/allocator.ts): with their own thresholds,
 * node and deno processes (glibc) and bun processes (mimalloc) gave memory back between bursts
 * of large bodies and faulted it in again, page by page.
 * - Each process-lane child (adapters/child-args.ts, allocatorEnv): read from the real
 *   children's /proc/PID/environ, one function per child runtime, with a memoryMb under glibc's
 *   cap so the trim threshold follows it; the function itself sees only its manifest's env.
 * - A Deno host (adapters/malloc-trim.ts, keepFreedMemory, through `mallopt`): with glibc's own
 *   thresholds it faulted 11 times a 256 KiB echo relayed through the process lane, and spent a
 *   tenth more CPU on it. Counted from /proc/self/stat (the host runs in this process) while the
 *   bench's load generator posts 256 KiB bodies, eight at a time. Node and Bun hosts keep their
 *   runtime's allocator as it is (../adapters/README.md, Memory).
 */
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectJson, measure, servingPid } from "./helpers/chaos.ts";
import { adapter, startTestHost } from "./helpers/host.ts";
import { patterned } from "./helpers/bytes.ts";
import { generatorCommand } from "../loadtest/harness/host-process.ts";
import { load } from "../loadtest/harness/load.ts";
import type { Workload } from "../loadtest/harness/workloads.ts";

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

const BODY_BYTES = 256 * 1024;
const CONNECTIONS = 8;
const DURATION_S = 4;
/** Under this many page faults a request, a host keeps its memory (with glibc's thresholds a Deno host made 11). */
const MOST_FAULTS = 3;

/** This process's minor page faults so far (/proc/PID/stat, field 10). */
function minorFaults(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
}

/**
 * The bench's load generator (autocannon, in a process of its own) POSTs bodies for DURATION_S;
 * the faults are counted from its second second to its last. Not from its start: this process
 * forked it, and every page the host writes after a fork faults once.
 */
async function faultsPerRequest(url: string): Promise<{ requests: number; perRequest: number }> {
  const body = patterned(BODY_BYTES, 7);
  const w = { name: "echo", path: "/echo", method: "POST", body } as unknown as Workload;
  let from: { faults: number; second: number } | undefined;
  let to: { faults: number; second: number } | undefined;
  const m = await load(url, w, {
    generator: generatorCommand(adapter.name, adapter.runtimeBinary(adapter.name)),
    durationS: DURATION_S,
    connections: CONNECTIONS,
    onTick: (second) => {
      if (second === 1) from = { faults: minorFaults(), second };
      else if (second === DURATION_S) to = { faults: minorFaults(), second };
    },
  });
  assert.is(m.errors + m.non2xx, 0, "every body was answered");
  assert.ok(from && to, "the generator reported its seconds");
  const requests = (m.requests * (to.second - from.second)) / DURATION_S;
  return { requests: m.requests, perRequest: (to.faults - from.faults) / requests };
}

// the setting is the Deno host's alone (Node 20 has no FFI; Bun allocates with mimalloc)
if (adapter.name === "deno")
  test("a Deno host relaying 256 KiB bodies does not fault its memory in again for each", async () => {
    const h = await startTestHost({ echo: { entry: "echo.ts", lane: "process", runtime: "node", instances: { max: 1 } } }, { top: { sandbox: "off" } });
    try {
      const { requests, perRequest } = await faultsPerRequest(h.url);
      assert.ok(requests > 100, `${requests} bodies echoed`);
      measure(`${adapter.name} host: page faults per 256 KiB echo`, perRequest.toFixed(2));
      assert.ok(perRequest < MOST_FAULTS, `${perRequest.toFixed(1)} page faults a request, under ${MOST_FAULTS}`);
    } finally {
      await h.stop();
    }
  });

test.run();
