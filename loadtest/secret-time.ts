/**
 * How long setting a secret takes, from the request to every function that uses it answering
 * with the new value, on each host runtime:
 *
 *   node --import tsx loadtest/secret-time.ts [--runtimes node,bun,deno] [--rounds 5]
 *
 * Per runtime, one `lanes start --data <tmp> --secrets-key-file <tmp>` host with two functions
 * that use the secret, one in each lane (a warm instance each); per round, PUT
 * /_lanes/api/secrets/API_KEY with a new value, then GET each function until it answers with
 * that value's length marker. Prints the median and range of the whole, and of the host's own
 * "started" (new instances up) and "switched" figures.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAdapter } from "../adapters/mod.ts";
import { parseArgs, stringFlag } from "../runtime/cli/args.ts";
import { lanesCommand } from "./harness/host-process.ts";
import type { BenchRuntime } from "./harness/report.ts";

const TOKEN = "secret-time-token-0123456789";
const adapter = await loadAdapter();
const args = parseArgs(adapter.argv(), { runtimes: "string", rounds: "string" }, "secret-time");
const flag = (name: string, def: string) => stringFlag(args, name, def);
const runtimes = flag("runtimes", "node,bun,deno").split(",");
const rounds = Number(flag("rounds", "5"));
/** The set answers once every function that uses it switched: a later answer is a bug, not noise. */
const ROUND_LIMIT_MS = 30_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const show = (xs: number[]) => `${Math.round(median(xs))} ms (${Math.round(Math.min(...xs))}-${Math.round(Math.max(...xs))})`;

async function measure(runtime: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "lanes-secret-time-"));
  // the marker is the value's last 8 characters, so the answer shows which value it has
  writeFileSync(join(dir, "fn.ts"), `export default { fetch: (_r: Request, env: Record<string, string>) => new Response(env.API_KEY!.slice(-8)) };\n`);
  const fns = { iso: { entry: "fn.ts", instances: { min: 1, max: 2 } }, proc: { entry: "fn.ts", lane: "process", instances: { min: 1, max: 2 } } };
  const manifest = { functions: Object.fromEntries(Object.entries(fns).map(([k, v]) => [k, { ...v, env: { API_KEY: { secret: "API_KEY" } } }])) };
  writeFileSync(join(dir, "lanes.json"), JSON.stringify(manifest));
  writeFileSync(join(dir, "tokens"), `bench ${TOKEN}\n`);
  writeFileSync(join(dir, "key"), randomBytes(32).toString("hex"), { mode: 0o600 });
  const [cmd, argv] = lanesCommand(runtime as BenchRuntime, adapter.runtimeBinary(runtime as BenchRuntime), []);
  // the first value is set before the host serves the functions, then the host restarts on it
  const child = spawn(
    cmd,
    [...argv, "start", dir, "--port", "0", "--data", join(dir, "data"), "--admin-token-file", join(dir, "tokens"), "--secrets-key-file", join(dir, "key"), "--log", "json"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  try {
    // start-up races the host exiting, so a host that cannot start is reported, never waited for
    const url = await new Promise<string>((resolve, reject) => {
      const poll = setInterval(() => {
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (!m) return;
        clearInterval(poll);
        resolve(m[1]!);
      }, 20);
      child.on("exit", (code) => {
        clearInterval(poll);
        reject(new Error(`${runtime} host exited (${code}) before listening:\n${out}`));
      });
    });
    const set = async (value: string) => {
      const res = await fetch(`${url}/_lanes/api/secrets/API_KEY`, { method: "PUT", headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ value }) });
      const json = (await res.json()) as { loadMs: number; switchMs: number; error?: { message: string } };
      if (!res.ok) throw new Error(json.error?.message);
      return json;
    };
    await set(randomBytes(16).toString("hex"));
    const total: number[] = [];
    const started: number[] = [];
    const switched: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const value = randomBytes(16).toString("hex");
      const t0 = performance.now();
      const r = await set(value);
      for (const fn of ["iso", "proc"]) {
        while ((await (await fetch(`${url}/${fn}`)).text()) !== value.slice(-8)) {
          if (performance.now() - t0 > ROUND_LIMIT_MS) throw new Error(`${runtime}: /${fn} still answers with the old value ${ROUND_LIMIT_MS} ms after the set`);
        }
      }
      total.push(performance.now() - t0);
      started.push(r.loadMs);
      switched.push(r.switchMs);
    }
    console.log(`${runtime.padEnd(5)} set to served (2 functions, both lanes): ${show(total)}; new instances started: ${show(started)}; switched: ${show(switched)}`);
  } finally {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await new Promise((r) => child.on("close", r));
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const rt of runtimes) await measure(rt);
