/**
 * For the deploy suites: folders of versions, a `lanes start --data` host in its own process,
 * deploys sent as `lanes deploy` sends them, and a steady client load that records every answer.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostEnvironment } from "../../adapters/env.ts";
import { packFolder } from "../../runtime/deploy/pack.ts";
import { uploadBody } from "../../runtime/deploy/upload.ts";
import { parseTokens } from "../../runtime/host/admin-auth.ts";
import { startDeployHost, type DeployHost, type DeployHostOptions } from "../../runtime/host/deploy-host.ts";
import { createLogger } from "../../runtime/log.ts";
import { cliCommand } from "./cli.ts";
import { adapter } from "./host.ts";
import { scratchDir } from "./scratch.ts";
import { spawnProcess, type Exit, type Spawned } from "./spawn.ts";

export const TOKEN = "ci-token-0123456789abcdef";
export const OTHER_TOKEN = "ops-token-fedcba9876543210";

export { scratchDir };

/** A token file naming two tokens, "ci" and "ops". */
export function tokenFile(): string {
  const file = join(scratchDir("tokens-"), "tokens");
  writeFileSync(file, `# admin tokens\nci ${TOKEN}\nops ${OTHER_TOKEN}\n`);
  return file;
}

export type Kind = "ok" | "fails" | "broken";

/**
 * A version folder: `greet` (isolate) and `greet-proc` (process) answer `marker` (or 500, or
 * throw while loading), `steady` (isolate) is the same in every version.
 */
export function versionDir(marker: string, kind: Kind = "ok", manifest: (m: Record<string, unknown>) => void = () => {}): string {
  const dir = scratchDir("version-");
  const body =
    kind === "broken"
      ? `throw new Error("${marker} is broken while loading");\nexport default { fetch: () => new Response("never") };\n`
      : `export default {
  async fetch(request: Request, _env: unknown, ctx: { shared: { get(k: string): Promise<string | undefined>; set(k: string, v: string): Promise<void> } }) {
    // ?hold=K waits until a request (of any version: ctx.shared is the function's) sends ?release=K,
    // to see a request finish on the version it started on
    const q = new URL(request.url).searchParams;
    const release = q.get("release");
    if (release) await ctx.shared.set("release", release);
    const hold = q.get("hold");
    const end = Date.now() + 20_000;
    while (hold && (await ctx.shared.get("release")) !== hold && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return new Response(${JSON.stringify(marker)}, { status: ${kind === "fails" ? 500 : 200} });
  },
};
`;
  writeFileSync(join(dir, "greet.ts"), body);
  writeFileSync(join(dir, "steady.ts"), `export default { fetch: () => new Response("steady") };\n`);
  const m = {
    functions: {
      // isolates started with the host (min 1), the child on the first request (min 0)
      greet: { entry: "greet.ts", lane: "isolate", instances: { min: 1, max: 2 } },
      "greet-proc": { entry: "greet.ts", lane: "process" },
      steady: { entry: "steady.ts", lane: "isolate", instances: { min: 1, max: 2 } },
    },
  };
  manifest(m);
  writeFileSync(join(dir, "lanes.json"), JSON.stringify(m, null, 2));
  return dir;
}

export interface StoreHost {
  url: string;
  pid: number;
  output(): string;
  exited: Promise<Exit>;
  kill(signal?: "SIGTERM" | "SIGKILL"): void;
  stop(): Promise<void>;
}

/**
 * `lanes start DIR --data DATA --port 0 [...extra]`, waiting for `listening on`. It gets the
 * allow-listed environment a host keeps, so it does not start itself again and its pid is the
 * host's own (a SIGKILL kills the host, not a CLI in front of it); a secret in `env`
 * (LANES_ADMIN_TOKEN) does make it start again, with the secret on stdin.
 */
export async function startStoreHost(dir: string, data: string, extra: string[] = [], env: Record<string, string> = {}): Promise<StoreHost> {
  const [cmd, argv] = cliCommand(["start", dir, "--data", data, "--port", "0", ...extra]);
  const child: Spawned = spawnProcess(cmd, argv, { ...hostEnvironment(adapter.name), NO_COLOR: "1", ...env });
  let out = "";
  child.onOutput((t) => {
    out += t;
    if (process.env.LANES_TEST_VERBOSE) process.stderr.write(t);
  });
  return hostHandle(child, await listeningUrl(child, () => out, "lanes start"), () => out);
}

/**
 * A deploy host in this process, quiet, on 127.0.0.1 and a free port, with the `ci` token and a
 * store of its own, unless `o` says otherwise.
 */
export async function inProcessDeployHost(o: Partial<DeployHostOptions> & { dir: string }): Promise<DeployHost> {
  return startDeployHost({
    port: 0,
    hostname: "127.0.0.1",
    dev: false,
    adapter,
    log: createLogger(() => {}),
    tokens: await parseTokens(`ci ${TOKEN}`, "test"),
    maxUploadBytes: 1024 * 1024,
    data: join(scratchDir("data-"), "store"),
    ...o,
  });
}

export interface Answer {
  status: number;
  version: string | null;
  text: string;
  json: Record<string, unknown> & { error?: { code: string; message: string } };
}

/** Call the admin API with `token` (default: the "ci" token). */
export async function api(url: string, method: "GET" | "POST", path: string, body?: string | object, token: string | null = TOKEN): Promise<Answer> {
  const res = await fetch(`${url}/_lanes/api/${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json = {};
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: the test looks at text
  }
  return { status: res.status, version: res.headers.get("lanes-version"), text, json: json as Answer["json"] };
}

/** What `lanes deploy` uploads for `dir`, sent from this process (no CLI start-up). */
export async function deploy(url: string, dir: string, options: { percent?: number; ifVersion?: string; autoRollback?: boolean; message?: string } = {}): Promise<Answer> {
  const packed = await packFolder(dir, adapter.sys, adapter.name);
  const body = uploadBody(packed.files, {
    tag: null,
    message: options.message ?? null,
    percent: options.percent ?? 100,
    ifVersion: options.ifVersion ?? null,
    autoRollback: options.autoRollback ?? false,
  });
  return api(url, "POST", "deploy", body);
}

/** Run the real CLI (`lanes deploy ...`) under this runtime; resolves with its exit code and output. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const [cmd, argv] = cliCommand(args);
  const child = spawnProcess(cmd, argv, { ...(process.env as Record<string, string>), NO_COLOR: "1", ...env });
  let out = "";
  child.onOutput((t) => (out += t));
  return child.exited.then(({ code }) => ({ code, out }));
}

/**
 * `lanes start|dev ...` expected to stop at its flags or its store, with the allow-listed
 * environment a host keeps (as startStoreHost): the CLI does not start itself again to shed the
 * rest, which doubled what each refused start cost (passing the exit code through a re-run is
 * host-env.test.ts's).
 */
export function runHostCli(args: string[]): Promise<{ code: number | null; out: string }> {
  const [cmd, argv] = cliCommand(args);
  const child = spawnProcess(cmd, argv, { ...hostEnvironment(adapter.name), NO_COLOR: "1" });
  let out = "";
  child.onOutput((t) => (out += t));
  return child.exited.then(({ code }) => ({ code, out }));
}

/** The real CLI with `input` on its stdin (`lanes secret set` reads its value there). */
export function runCliWithInput(args: string[], input: string, env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const [cmd, argv] = cliCommand(args);
  const child = spawn(cmd, argv, { env: { ...(process.env as Record<string, string>), NO_COLOR: "1", ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  child.stdin!.end(input);
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out })));
}

export interface Sample {
  path: string;
  started: number;
  ended: number;
  status: number;
  version: string | null;
  text: string;
}

/**
 * The pause between a steady client's requests in the deploy suites: a request every 10-15 ms
 * per client still meets any window of failures a switch could open, where unpaced clients made
 * the host and the suite spend most of such a test's CPU on requests nothing looks at.
 */
export const PACE_MS = 10;

/**
 * `concurrency` clients per path, each sending one request after the other until stopped (always
 * stop it: try/finally), `pauseMs` apart: a paced client is still in the switch's way, without
 * the host and the client spending a core on requests nothing looks at one by one.
 */
export function steadyLoad(url: string, paths: string[], concurrency = 2, pauseMs = 0): { samples: Sample[]; stop(): Promise<Sample[]> } {
  const samples: Sample[] = [];
  let running = true;
  const loops = paths.flatMap((path) =>
    Array.from({ length: concurrency }, async () => {
      while (running) {
        samples.push(await get(url, path));
        if (pauseMs > 0 && running) await sleep(pauseMs);
      }
    }),
  );
  return {
    samples,
    async stop() {
      running = false;
      await Promise.all(loops);
      return samples;
    },
  };
}

/** One GET, never throwing: a network error is status 0 with its message. */
export async function get(url: string, path: string, headers: Record<string, string> = {}): Promise<Sample> {
  const started = Date.now();
  try {
    const res = await fetch(url + path, { headers });
    const text = await res.text();
    return { path, started, ended: Date.now(), status: res.status, version: res.headers.get("lanes-version"), text };
  } catch (e) {
    return { path, started, ended: Date.now(), status: 0, version: null, text: String((e as Error).cause ?? e) };
  }
}

/** `count` GETs, `concurrency` at a time. */
export async function many(url: string, path: string, count: number, concurrency = 8, headers: Record<string, string> = {}): Promise<Sample[]> {
  const out: Sample[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        out.push(await get(url, path, headers));
      }
    }),
  );
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait (up to 10 s) until `count` requests that started after `since` have their answer. */
export async function answeredSince(samples: Sample[], since: number, count: number): Promise<void> {
  const end = Date.now() + 10_000;
  while (samples.filter((s) => s.started > since).length < count && Date.now() < end) await sleep(20);
}

/** The URL of a `listening on URL` line in `output()`, once there; fails when `who` exits first or is silent for 60 s. */
export function listeningUrl(child: { exited: Promise<{ code: number | null; signal: string | null }> }, output: () => string, who: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      clearInterval(poll);
      reject(new Error(`${who}: no "listening on" within 60 s:\n${output()}`));
    }, 60_000);
    const poll = setInterval(() => {
      const m = /listening on (http:\/\/[^\s"]+)/.exec(output());
      if (m) {
        clearTimeout(timer);
        clearInterval(poll);
        resolve(m[1]!);
      }
    }, 10);
    void child.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      clearInterval(poll);
      reject(new Error(`${who} exited (${code ?? signal}) before listening:\n${output()}`));
    });
  });
}

/** A started `lanes start` process: its URL and output, and a stop that SIGKILLs after 8 s. */
export function hostHandle(child: Spawned, url: string, output: () => string): StoreHost {
  return {
    url,
    pid: child.pid,
    output,
    exited: child.exited,
    kill: (signal = "SIGTERM") => child.kill(signal),
    async stop() {
      child.kill("SIGTERM");
      const late = setTimeout(() => child.kill("SIGKILL"), 8000);
      await child.exited;
      clearTimeout(late);
    },
  };
}
