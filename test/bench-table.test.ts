/**
 * The bench's terminal report (loadtest/harness/table.ts): a direct cell whose rate the load
 * generator set is named under the table, with autocannon's cores, so that its lanes' x direct is
 * not read as the host's.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { BenchResult } from "../loadtest/harness/report.ts";
import { GENERATOR_BOUND, generatorNote } from "../loadtest/harness/table.ts";

function cell(workload: string, runtime: BenchResult["runtime"], lane: BenchResult["lane"], generatorCores: number, checkError?: string): BenchResult {
  return {
    workload,
    lane,
    runtime,
    rssMb: 100,
    hostRssMb: 100,
    instancesRssMb: 0,
    idleInstanceMb: null,
    instances: 1,
    coldStartMs: null,
    warmMs: 1,
    cpuMsPerRequest: 0.2,
    hostCpuMsPerRequest: 0.2,
    childrenCpuMsPerRequest: 0,
    faultsPerRequest: { host: 0, children: 0 },
    requestBytes: 0,
    responseBytes: 0,
    foreignCpu: 0,
    generatorCores,
    restarts: 0,
    rps: 3000,
    p50Ms: 10,
    p99Ms: 40,
    errors: 0,
    non2xx: 0,
    requests: 15000,
    ...(checkError ? { checkError } : {}),
  };
}

test("direct cells at the load generator's ceiling are named with its cores; lanes' cells, failed cells and the others are not", () => {
  const note = generatorNote([
    cell("hello", "node", "direct", 0.62),
    cell("body", "bun", "direct", 0.98),
    cell("body", "bun", "process", 0.97), // a lane's cell: its rate is the lane's to explain
    cell("body", "deno", "direct", GENERATOR_BOUND),
    cell("io", "deno", "direct", 1.0, "expected 200"), // failed: its figures are not shown
  ]);
  assert.is(note.length, 1);
  assert.match(note[0]!, /direct cell of body on bun \(0\.98\), body on deno \(0\.90\):/);
  assert.match(note[0]!, /"x direct" there compares the lanes with autocannon's ceiling/);
  assert.not.match(note[0]!, /hello|io on|process/);
});

test("no direct cell at the ceiling: nothing is said", () => {
  assert.equal(generatorNote([cell("body", "node", "direct", 0.79), cell("body", "node", "isolate", 0.99)]), []);
});

test.run();
