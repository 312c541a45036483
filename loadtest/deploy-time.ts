/**
 * How long a deploy and a rollback take, from the upload to the new version answering, on each
 * host runtime, for the example functions/ folder:
 *
 *   node --import tsx loadtest/deploy-time.ts [--runtimes node,bun,deno] [--rounds 5]
 *
 * Per runtime, one `lanes start functions --data <tmp>` host; per round:
 *   - deploy, one function changed (hello): POST /_lanes/api/deploy, then GET /hello until its
 *     lanes-version header names the new version;
 *   - deploy, every function changed (7: 4 isolates, 3 child processes);
 *   - rollback to the previous version, whose instances were stopped (brought up again);
 *   - rollback of a gradual deployment (the stable version still runs: a switch only).
 * Prints the median and the range of each over the rounds, and how many the host refused (and why).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, stringFlag } from "../runtime/cli/args.ts";
import { lanesCommand } from "./harness/host-process.ts";
import type { BenchRuntime } from "./harness/report.ts";
import { loadAdapter } from "../adapters/mod.ts";
import { packFolder } from "../runtime/deploy/pack.ts";
import { uploadBody } from "../runtime/deploy/upload.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
const TOKEN = "deploy-time-token-0123456789";

const adapter = await loadAdapter();
const args = parseArgs(adapter.argv(), { runtimes: "string", rounds: "string" }, "deploy-time");
const flag = (name: string, def: string) => stringFlag(args, name, def);
const runtimes = flag("runtimes", "node,bun,deno").split(",");
const rounds = Number(flag("rounds", "5"));

const packed = await packFolder(join(root, "functions"), adapter.sys, adapter.name);
const encoder = new TextEncoder();

/** The example folder's upload with a comment appended to the bundles of `changed` (so they differ). */
function variant(tag: string, changed: (path: string) => boolean): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  for (const [path, bytes] of packed.files) {
    files.set(path, path.startsWith("bundles/") && changed(path) ? new Uint8Array([...bytes, ...encoder.encode(`\n// ${tag}\n`)]) : bytes);
  }
  return files;
}

async function post(url: string, path: string, body: string): Promise<{ version: string }> {
  const res = await fetch(`${url}/_lanes/api/${path}`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body });
  const json = (await res.json()) as { version: string; error?: { message: string } };
  if (!res.ok) throw new Error(`${path}: ${res.status} ${json.error?.message}`);
  return json;
}

/** ms from now until GET /hello answers from `version` (polled). */
async function until(url: string, version: () => string | undefined, started: number): Promise<number> {
  for (;;) {
    const res = await fetch(`${url}/hello`);
    await res.text();
    if (res.headers.get("lanes-version") === version()) return performance.now() - started;
  }
}

async function timed(url: string, path: string, body: string): Promise<number> {
  const t0 = performance.now();
  let id: string | undefined;
  const answered = post(url, path, body).then((r) => (id = r.version));
  await answered;
  return until(url, () => id, t0);
}

const failures: Record<string, string[]> = {};

async function measure(runtime: string): Promise<Record<string, number[]>> {
  for (const k of Object.keys(failures)) delete failures[k];
  const dir = mkdtempSync(join(tmpdir(), "lanes-deploy-time-"));
  writeFileSync(join(dir, "tokens"), `bench ${TOKEN}\n`);
  const [cmd, pre] = lanesCommand(runtime as BenchRuntime, adapter.runtimeBinary(runtime as BenchRuntime), []);
  const child = spawn(cmd, [...pre, "start", join(root, "functions"), "--data", join(dir, "store"), "--admin-token-file", join(dir, "tokens"), "--port", "0"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stderr.on("data", (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on("close", () => reject(new Error(`${runtime} host exited:\n${out}`)));
  });
  const t: Record<string, number[]> = {
    "deploy, 1 function changed": [],
    "deploy, 7 functions changed": [],
    "rollback to a stopped version": [],
    "rollback of a gradual deployment": [],
  };
  const body = (files: Map<string, Uint8Array>, percent = 100) => uploadBody(files, { tag: null, message: null, percent, ifVersion: null, autoRollback: false });
  // a step the host refuses is counted and reported, and the rounds go on from what serves then
  const step = async (what: string, path: string, payload: string) => {
    try {
      t[what]!.push(await timed(url, path, payload));
    } catch (e) {
      (failures[what] ??= []).push((e as Error).message.split("\n").slice(1).join("; ").trim() || (e as Error).message);
    }
  };
  try {
    for (let i = 0; i < rounds; i++) {
      await step("deploy, 1 function changed", "deploy", body(variant(`one ${i}`, (p) => p === "bundles/hello.mjs")));
      await step("deploy, 7 functions changed", "deploy", body(variant(`all ${i}`, () => true)));
      await step("rollback to a stopped version", "rollback", "{}");
      await post(
        url,
        "deploy",
        body(
          variant(`gradual ${i}`, (p) => p === "bundles/hello.mjs"),
          50,
        ),
      ).catch(() => undefined);
      await step("rollback of a gradual deployment", "rollback", "{}");
    }
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("close", r));
    rmSync(dir, { recursive: true, force: true });
  }
  return t;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${Math.round(x)} ms`;
console.log(`lanes deploy-time: functions/ (7 functions), ${rounds} rounds, upload to the first answer from the new version; median (min-max)`);
for (const runtime of runtimes) {
  const t = await measure(runtime);
  console.log(`\n${runtime} host`);
  for (const [what, xs] of Object.entries(t)) {
    const failed = failures[what] ?? [];
    const figures = xs.length ? `${ms(median(xs)).padStart(7)}  (${ms(Math.min(...xs))}-${ms(Math.max(...xs))})` : "      -";
    console.log(`  ${what.padEnd(34)} ${figures}${failed.length ? `  ${failed.length} of ${rounds} refused: ${failed[0]}` : ""}`);
  }
}
