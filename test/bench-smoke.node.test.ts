/**
 * `lanes bench` end to end, kept short: the real CLI on Node, one workload, both lanes and the
 * direct baseline, a third of a second per cell after a tenth of warm-up. It proves the harness and the shape of bench.json
 * and never asserts a speed (CI machines differ; the figures live in ../loadtest/README.md).
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { main } from "../runtime/cli/main.ts";
import { adapter } from "./helpers/host.ts";
import { scratchDir } from "./helpers/scratch.ts";

const root = fileURLToPath(new URL("../", import.meta.url));

function bench(args: string[]) {
  const run = spawnSync(process.execPath, ["bin/lanes.mjs", "bench", ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    timeout: 120_000,
  });
  return { code: run.status, out: run.stdout, err: run.stderr };
}

/** `lanes bench` by the CLI's main in this process (test/cli.test.ts does so for every command's usage errors). */
async function inProcess(args: string[]) {
  let out = "";
  let err = "";
  const code = await main({ ...adapter, cwd: () => root, writeOut: (t) => void (out += t), writeErr: (t) => void (err += t) }, ["bench", ...args]);
  return { code, out, err };
}

const isNum = (x: unknown) => typeof x === "number" && Number.isFinite(x);

test("bench --quick measures hello in both lanes against direct and writes JSON, a chart and a table (a list named twice is measured once)", () => {
  const out = scratchDir("bench-out-");
  try {
    const {
      code,
      out: stdout,
      err,
    } = bench(["--quick", "--function", "hello,hello", "--lanes", "isolate,process,isolate", "--runtimes", "node,node", "--duration", "0.3", "--warmup", "0.1", "--out", out]);
    assert.is(code, 0, `exit ${code}\n${stdout}\n${err}`);
    assert.match(stdout, /req\/s\s+x direct\s+p50 ms\s+p99 ms/);
    assert.match(stdout, /which lane suits each function:\n {2}hello: (isolate|process) lane\. /);

    const report = JSON.parse(readFileSync(join(out, "bench.json"), "utf8"));
    assert.type(report.meta.cpuModel, "string");
    assert.ok(report.meta.cores >= 1);
    assert.type(report.meta.versions.node, "string");
    assert.type(report.meta.versions.autocannon, "string");
    assert.is(report.meta.durationS, 0.3);
    assert.is(report.meta.quick, true);

    const lanes = report.results.map((r: { lane: string }) => r.lane).sort();
    assert.equal(lanes, ["direct", "isolate", "process"]);
    for (const r of report.results) {
      assert.is(r.workload, "hello");
      assert.is(r.runtime, "node");
      assert.is(r.checkError, undefined, r.checkError);
      for (const k of ["rps", "p50Ms", "p99Ms", "errors", "non2xx", "rssMb", "hostRssMb", "warmMs", "cpuMsPerRequest", "foreignCpu", "generatorCores", "restarts"]) {
        assert.ok(isNum(r[k]), `${r.lane}.${k} is ${r[k]}`);
      }
      // autocannon ran in its own process for the whole window: the CPU it reported shows
      assert.ok(r.generatorCores > 0.02 && r.generatorCores < 4, `${r.lane}: the load generator used ${r.generatorCores} cores`);
      assert.ok(r.requests > 0, `${r.lane}: no request was measured`);
      // requests / req/s is the time measured: the 0.3 s asked, not autocannon's next whole second
      assert.ok(r.requests / r.rps < 0.9, `${r.lane}: measured for ${(r.requests / r.rps).toFixed(2)} s, 0.3 s asked`);
      assert.ok(r.rssMb > 0, `${r.lane}: no memory was read`);
      // the CPU split between the host process and its children adds up to the whole
      assert.ok(isNum(r.hostCpuMsPerRequest) && isNum(r.childrenCpuMsPerRequest), `${r.lane}: ${r.hostCpuMsPerRequest} / ${r.childrenCpuMsPerRequest}`);
      assert.ok(Math.abs(r.hostCpuMsPerRequest + r.childrenCpuMsPerRequest - r.cpuMsPerRequest) < 1e-9, `${r.lane}: the split adds up to ${r.cpuMsPerRequest}`);
      assert.ok(r.hostCpuMsPerRequest > 0, `${r.lane}: the host used no CPU`);
      assert.ok(
        isNum(r.faultsPerRequest.host) && r.faultsPerRequest.host >= 0 && isNum(r.faultsPerRequest.children) && r.faultsPerRequest.children >= 0,
        JSON.stringify(r.faultsPerRequest),
      );
      // a process-lane request runs in a child; direct and the isolate lane have none working
      if (r.lane === "process") assert.ok(r.childrenCpuMsPerRequest > 0, `process: the children used ${r.childrenCpuMsPerRequest} ms a request`);
      else
        assert.ok(r.childrenCpuMsPerRequest < r.hostCpuMsPerRequest / 10, `${r.lane}: children used ${r.childrenCpuMsPerRequest} ms a request, the host ${r.hostCpuMsPerRequest}`);
      if (r.lane === "direct") assert.is(r.coldStartMs, null);
      else {
        assert.ok(isNum(r.coldStartMs), `${r.lane}: cold start not measured`);
        assert.ok(isNum(r.idleInstanceMb), `${r.lane}: idle instance memory not measured`);
        assert.ok(r.instances >= 1);
      }
    }

    const probes = report.crashes.map((c: { lane: string; mode: string }) => `${c.lane}/${c.mode}`).sort();
    assert.equal(probes, ["isolate/abort", "isolate/exit", "process/abort", "process/exit"]);
    const processAbort = report.crashes.find((c: { lane: string; mode: string }) => c.lane === "process" && c.mode === "abort");
    assert.is(processAbort.hostSurvived, true, "a crashing child must not take the host down");

    // the sandbox's cost: cold starts of sandboxed and unsandboxed node children, in the lane table
    assert.is(report.sandboxCosts.length, 1);
    const cost = report.sandboxCosts[0];
    assert.is(cost.error, undefined, cost.error);
    assert.is(cost.sandboxedMs.length, 3);
    assert.is(cost.unsandboxedMs.length, 3);
    assert.ok(isNum(cost.medianSandboxedMs) && isNum(cost.medianUnsandboxedMs));
    assert.match(stdout, /child cold start: sandbox \/ none/);
    assert.match(stdout, /node +process +.* \d+ \/ \d+ ms \([+-]\d+\)/);

    assert.is(report.advice.length, 1);
    assert.is(report.advice[0].function, "hello");
    assert.ok(["isolate", "process"].includes(report.advice[0].lane));

    assert.match(readFileSync(join(out, "bench.svg"), "utf8").slice(0, 200), /^<svg/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("bench --rounds 2 measures each cell twice in turn and reports medians, overhead against each round's own direct", async () => {
  const out = scratchDir("bench-rounds-");
  try {
    const args = ["--quick", "--function", "hello", "--lanes", "isolate", "--runtimes", "node", "--duration", "0.3", "--warmup", "0.1", "--crash=false"];
    const { code, out: stdout, err } = bench([...args, "--rounds", "2", "--out", out]);
    assert.is(code, 0, `exit ${code}\n${stdout}\n${err}`);
    assert.match(stdout, /per cell, 2 rounds in turn \(medians; overhead against each round's direct\)/);
    const report = JSON.parse(readFileSync(join(out, "bench.json"), "utf8"));
    assert.is(report.meta.rounds, 2);
    const direct = report.results.find((r: { lane: string }) => r.lane === "direct");
    const lane = report.results.find((r: { lane: string }) => r.lane === "isolate");
    assert.is(report.results.length, 2);
    for (const r of [direct, lane]) {
      assert.is(r.checkError, undefined, r.checkError);
      assert.is(r.rounds.length, 2, `${r.lane}: ${JSON.stringify(r.rounds)}`);
      for (const round of r.rounds) assert.ok(round.rps > 0 && round.cpuMsPerRequest > 0, `${r.lane}: ${JSON.stringify(round)}`);
      // the row is the round with the median req/s (the lower of two), CPU the median of both
      assert.is(r.rps, Math.min(...r.rounds.map((x: { rps: number }) => x.rps)));
      assert.ok(Math.abs(r.cpuMsPerRequest - (r.rounds[0].cpuMsPerRequest + r.rounds[1].cpuMsPerRequest) / 2) < 1e-12);
    }
    for (const i of [0, 1]) {
      const mine = lane.rounds[i];
      const theirs = direct.rounds[i];
      assert.ok(Math.abs(mine.overheadUs - (mine.cpuMsPerRequest - theirs.cpuMsPerRequest) * 1000) < 1e-9, `round ${i + 1}: ${JSON.stringify({ mine, theirs })}`);
      assert.ok(Math.abs(mine.xDirect - mine.rps / theirs.rps) < 1e-12);
    }
    assert.ok(Math.abs(lane.overheadUs - (lane.rounds[0].overheadUs + lane.rounds[1].overheadUs) / 2) < 1e-9);
    assert.ok(Math.abs(lane.xDirect - (lane.rounds[0].xDirect + lane.rounds[1].xDirect) / 2) < 1e-12);
    const row = stdout.split("\n").find((l) => /^\s+isolate\s/.test(l));
    assert.ok(row, stdout);
    const cells = row!.trim().split(/\s{2,}/);
    assert.is(cells[2], lane.xDirect.toFixed(2), row);
    assert.is(cells[9], Math.round(lane.overheadUs).toLocaleString("en-US"), row);

    // the flags refused, by the CLI's main in this process: the same code, no process started per case
    const bad = await inProcess([...args, "--rounds", "0", "--out", out]);
    assert.is(bad.code, 2);
    assert.match(bad.err, /lanes bench: --rounds must be an integer from 1 to 20 \(got "0"\)/);
    // (--duration once: a flag given twice is refused before its value is read)
    const short = await inProcess([...args.filter((a, i) => a !== "--duration" && args[i - 1] !== "--duration"), "--duration", "0.05", "--out", out]);
    assert.is(short.code, 2, short.out);
    assert.match(short.err, /lanes bench: --duration must be a number of seconds from 0.1 to 3600 \(got "0.05"\)/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("a function that answers wrongly is reported as failed, not measured, and the exit code says so", () => {
  const dir = scratchDir("bench-fns-");
  try {
    writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions: { flaky: { entry: "flaky.ts" } } }));
    writeFileSync(join(dir, "flaky.ts"), 'export default { fetch: () => new Response("no", { status: 500 }) };\n');
    const { code, out } = bench([dir, "--lanes", "isolate", "--runtimes", "node", "--duration", "0.5", "--crash=false"]);
    assert.is(code, 1);
    assert.match(out, /flaky isolate node: GET \/flaky: expected a 2xx, got 500/);
    const report = JSON.parse(readFileSync(join(dir, "bench-results", "bench.json"), "utf8"));
    assert.is(report.results.length, 2);
    for (const r of report.results) {
      assert.match(r.checkError, /expected a 2xx, got 500/);
      assert.is(r.requests, 0);
    }
    const workspaces = readdirSync(join(dir, ".lanes")).filter((d) => d.startsWith("bench-"));
    assert.equal(workspaces, [], "the bench workspace (a mirror of the folder) was not removed");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
