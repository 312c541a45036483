/**
 * How long a deploy takes to reach every host of a cluster on etcd, under client load:
 *
 *   node --import tsx loadtest/cluster-deploy-time.ts [--rounds 5] [--connections 2]
 *
 * Starts a local etcd (the `etcd` binary: Debian's etcd-server) and three hosts on it, one per
 * runtime (Node, Bun, Deno), each `lanes start functions --store etcd://...`. While
 * `--connections` loops per host keep GETting /hello on all three, each round deploys the
 * example folder with hello changed to the next host in turn (POST /_lanes/api/deploy) and
 * polls every host until /hello answers from the new version. Per round:
 *   - deploy to all switched: from sending the upload until the last host answers the new version;
 *   - the deploying host's answer: the upload's own time (load here, the others' load, the switch);
 *   - spread: from the first host's switch to the last one's (their host records, switchedAt);
 *   - failed requests of the client load (any answer but 200, or a network error).
 * Prints the median and range of each, and the failed requests in all.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, stringFlag } from "../runtime/cli/args.ts";
import { lanesCommand } from "./harness/host-process.ts";
import type { BenchRuntime } from "./harness/report.ts";
import { loadAdapter } from "../adapters/mod.ts";
import type { HostRecord } from "../runtime/deploy/model.ts";
import { packFolder } from "../runtime/deploy/pack.ts";
import { uploadBody } from "../runtime/deploy/upload.ts";
import { startEtcd } from "../test/helpers/etcd.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
const TOKEN = "cluster-deploy-time-token-0123456789";

const adapter = await loadAdapter();
const args = parseArgs(adapter.argv(), { rounds: "string", connections: "string" }, "cluster-deploy-time");
const flag = (name: string, def: string) => stringFlag(args, name, def);
const rounds = Number(flag("rounds", "5"));
const connections = Number(flag("connections", "2"));

const packed = await packFolder(join(root, "functions"), adapter.sys, adapter.name);
const encoder = new TextEncoder();

/** The example folder's upload with hello's bundle changed (a comment appended). */
function variant(tag: string): string {
  const files = new Map<string, Uint8Array>();
  for (const [path, bytes] of packed.files) files.set(path, path === "bundles/hello.mjs" ? new Uint8Array([...bytes, ...encoder.encode(`\n// ${tag}\n`)]) : bytes);
  return uploadBody(files, { tag: null, message: null, percent: 100, ifVersion: null, autoRollback: false });
}

interface Host {
  runtime: string;
  url: string;
  child: ChildProcess;
}

async function startHost(runtime: string, store: string, tokens: string): Promise<Host> {
  const [cmd, pre] = lanesCommand(runtime as BenchRuntime, adapter.runtimeBinary(runtime as BenchRuntime), []);
  const child = spawn(cmd, [...pre, "start", join(root, "functions"), "--store", store, "--admin-token-file", tokens, "--port", "0", "--no-access-log"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stderr!.on("data", (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on("close", () => reject(new Error(`${runtime} host exited:\n${out}`)));
  });
  return { runtime, url, child };
}

const api = async (url: string, method: string, path: string, body?: string) => {
  const res = await fetch(`${url}/_lanes/api/${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` }, ...(body ? { body } : {}) });
  const json = (await res.json()) as Record<string, unknown> & { error?: { message: string } };
  if (!res.ok) throw new Error(`${path}: ${res.status} ${json.error?.message}`);
  return json;
};

/** `connections` loops per host GETting /hello until stopped; counts what failed. */
function load(hosts: Host[]) {
  let running = true;
  let sent = 0;
  const failed: string[] = [];
  const loops = hosts.flatMap((h) =>
    Array.from({ length: connections }, async () => {
      while (running) {
        sent++;
        try {
          const res = await fetch(`${h.url}/hello`);
          await res.text();
          if (res.status !== 200) failed.push(`${h.runtime}: ${res.status}`);
        } catch (e) {
          failed.push(`${h.runtime}: ${String((e as Error).cause ?? e)}`);
        }
      }
    }),
  );
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { sent, failed };
    },
  };
}

/** ms from `t0` until every host's /hello answers from `version`. */
async function allServe(hosts: Host[], version: string, t0: number): Promise<number> {
  await Promise.all(
    hosts.map(async (h) => {
      for (;;) {
        const res = await fetch(`${h.url}/hello`);
        await res.text();
        if (res.headers.get("lanes-version") === version) return;
      }
    }),
  );
  return performance.now() - t0;
}

const dir = mkdtempSync(join(tmpdir(), "lanes-cluster-time-"));
writeFileSync(join(dir, "tokens"), `bench ${TOKEN}\n`);
const etcd = await startEtcd();
const store = `etcd://${etcd.member}/lanes/cluster-time`;
const hosts: Host[] = [];
const t: Record<string, number[]> = { "deploy to all switched": [], "the deploying host's answer": [], "spread of the switches": [] };
let totals = { sent: 0, failed: [] as string[] };
try {
  hosts.push(await startHost("node", store, join(dir, "tokens")));
  hosts.push(...(await Promise.all(["bun", "deno"].map((r) => startHost(r, store, join(dir, "tokens"))))));
  const running = load(hosts);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    for (let i = 0; i < rounds; i++) {
      const to = hosts[i % hosts.length]!;
      const t0 = performance.now();
      const r = (await api(to.url, "POST", "deploy", variant(`round ${i}`))) as { version: string; deployment: { revision: number } };
      t["the deploying host's answer"]!.push(performance.now() - t0);
      t["deploy to all switched"]!.push(await allServe(hosts, r.version, t0));
      let records: HostRecord[] = [];
      for (;;) {
        records = ((await api(to.url, "GET", "hosts")) as unknown as { hosts: HostRecord[] }).hosts;
        if (records.every((h) => h.revision >= r.deployment.revision)) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      const at = records.map((h) => Date.parse(h.switchedAt));
      t["spread of the switches"]!.push(Math.max(...at) - Math.min(...at));
      await new Promise((res) => setTimeout(res, 500));
    }
  } finally {
    totals = await running.stop();
  }
} finally {
  await Promise.all(
    hosts.map((h) => {
      h.child.kill("SIGTERM");
      return new Promise((r) => (h.child.exitCode !== null ? r(null) : h.child.once("close", r)));
    }),
  );
  await etcd.close();
  rmSync(dir, { recursive: true, force: true });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${Math.round(x)} ms`;
console.log(
  `lanes cluster-deploy-time: 3 hosts (node, bun, deno) on one etcd, functions/ with hello changed, ${rounds} rounds, ${connections} connection(s) per host on /hello; median (min-max)`,
);
for (const [what, xs] of Object.entries(t)) console.log(`  ${what.padEnd(30)} ${ms(median(xs)).padStart(7)}  (${ms(Math.min(...xs))}-${ms(Math.max(...xs))})`);
console.log(`  client load: ${totals.sent} requests, ${totals.failed.length} failed${totals.failed.length ? `: ${[...new Set(totals.failed)].slice(0, 5).join("; ")}` : ""}`);
