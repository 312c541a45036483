/**
 * The host keeps its secrets: `lanes start` and `lanes dev` run with an allow-listed environment
 * (what the runtimes need, and `LANES_*`), so an isolate-lane function reading
 * `/proc/self/environ` finds none of the shell's other variables. Deleting from `process.env`
 * would not do: `/proc/self/environ` is the environment the process was started with. So when
 * the environment holds anything else, the CLI starts the host again with the clean one and
 * stays in front of it (forwarding SIGINT/SIGTERM, passing its exit code through). Secrets
 * lanes itself needs (`LANES_ADMIN_TOKEN`, ...) travel on the new host's stdin and are read with
 * `hostEnv()`, never from its environment. README.md in this folder, Host environment.
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { allocatorTunedIn, hostAllocatorEnv, keepingEnv } from "./allocator.ts";
import type { RuntimeName } from "./types.ts";

/** The allocators' own tunings (mimalloc's in Bun, glibc's in Node and Deno) hold no secret: an operator may set them (README.md in this folder, Memory). */
const ALLOWED = /^(PATH|HOME|TZ|TMPDIR|LANG|LANGUAGE|LC_[A-Z_]+|TERM|COLORTERM|NO_COLOR|FORCE_COLOR|LANES_[A-Za-z0-9_]+|MIMALLOC_[A-Z_]+|MALLOC_[A-Z_]+)$/;
/** `LANES_*` variables that hold secrets: never left in the host's environment. */
const SECRET = /^LANES_(?:[A-Z0-9]+_)*(?:TOKEN|SECRET|PASSWORD|KEY)(?:_[A-Z0-9]+)*$/;
/** Set in the re-executed host: its secrets come as one JSON line on stdin. */
const SECRETS_ON_STDIN = "LANES_SECRETS_ON_STDIN";

const secrets = new Map<string, string>();

/**
 * A variable lanes reads from its own environment, secrets included (`LANES_ADMIN_TOKEN`):
 * from what the CLI passed on stdin when it re-executed the host, else from `process.env`.
 */
export function hostEnv(name: string): string | undefined {
  return secrets.get(name) ?? process.env[name];
}

/** What of `env` a host may keep, the secrets to pass apart, and the names dropped. */
export function splitEnv(env: Record<string, string | undefined>): { kept: Record<string, string>; secrets: Record<string, string>; dropped: string[] } {
  const out = { kept: {} as Record<string, string>, secrets: {} as Record<string, string>, dropped: [] as string[] };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (SECRET.test(name)) out.secrets[name] = value;
    else if (ALLOWED.test(name) && name !== SECRETS_ON_STDIN) out.kept[name] = value;
    else out.dropped.push(name);
  }
  return out;
}

/**
 * Whether a `host` host started with `env` runs again (`runWithCleanEnv`): the environment holds
 * more than the allow-list, or lacks what the host's allocator is told (allocator.ts).
 */
export function runsAgain(host: RuntimeName, env: Record<string, string | undefined>): boolean {
  const split = splitEnv(env);
  return split.dropped.length > 0 || Object.keys(split.secrets).length > 0 || Object.keys(hostAllocatorEnv(host, env)).length > 0;
}

/**
 * The environment a `host` host is started with, so that the CLI does not run it again (for tools
 * and tests that start one and take its pid for the host's): the allow-listed variables of `env`,
 * and what its allocator is told (allocator.ts).
 */
export function hostEnvironment(host: RuntimeName, env: Record<string, string | undefined> = process.env): Record<string, string> {
  return { ...splitEnv(env).kept, ...hostAllocatorEnv(host, env) };
}

/**
 * In the CLI process, before a host command: if this process is the re-executed host, read its
 * secrets and resolve undefined (go on serving). If its environment is already clean (and holds
 * what its allocator is told, `hostAllocatorEnv`), resolve undefined too. Otherwise run the host
 * again with the clean environment and resolve with its exit code once it has exited.
 */
export async function runWithCleanEnv(host: RuntimeName): Promise<number | undefined> {
  if (process.env[SECRETS_ON_STDIN] === "1" && !process.stdin.isTTY) {
    await receiveSecrets();
    return undefined;
  }
  if (!runsAgain(host, process.env)) return undefined;
  const split = splitEnv(process.env);
  const env = { ...split.kept, ...hostAllocatorEnv(host, process.env), [SECRETS_ON_STDIN]: "1" };
  return runAgain(host, env, "start the host again with a clean environment", split.secrets);
}

/**
 * `lanes load` on Node: glibc reads its thresholds only as the process starts, so the CLI runs the
 * command again with those of allocator.ts in its environment (otherwise as it is: a load
 * generator holds none of lanes' secrets), unless the operator tuned the allocator. Against a
 * `direct` Deno host echoing 256 KiB, a Node generator then served 7,449-7,464 req/s at 0.75-0.77
 * of a core, against 4,670-5,567 at 0.84-0.91 (../loadtest/README.md, `lanes load URL`). Resolves
 * with that run's exit code, or undefined where this process is to run the command.
 */
export function runWithKeepingAllocator(runtime: RuntimeName): Promise<number | undefined> {
  const keep = keepingEnv(runtime, 128);
  // the run again holds them: it never runs a third time, whatever allocatorTunedIn says
  if (runtime !== "node" || allocatorTunedIn(process.env) || Object.keys(keep).some((name) => name in process.env)) return Promise.resolve(undefined);
  return runAgain(runtime, { ...process.env, ...keep }, "run the load generator again");
}

/** The command line that started this process, to start the same command again. */
function sameCommand(host: RuntimeName): [string, string[]] {
  const script = process.argv.slice(1);
  // Deno's process.execArgv does not hold `run` and its permission flags; lanes needs -A anyway
  if (host === "deno") return [process.execPath, ["run", "-A", ...script]];
  return [process.execPath, [...process.execArgv, ...script]];
}

/**
 * Runs this command again with `env` and resolves with its exit code. `secrets`: written as one
 * line to its stdin, a pipe that stays open (the host takes its closing as our death: see
 * receiveSecrets); without them it shares our stdin.
 */
function runAgain(host: RuntimeName, env: Record<string, string | undefined>, what: string, secrets?: Record<string, string>): Promise<number> {
  const [cmd, args] = sameCommand(host);
  // its own session: a Ctrl-C in the terminal reaches it once, forwarded by us, not twice
  const child = spawn(cmd, args, { env, stdio: [secrets ? "pipe" : "inherit", "inherit", "inherit"], detached: true });
  if (secrets) {
    child.stdin!.on("error", () => {}); // it exited before reading: its exit code tells why
    child.stdin!.write(`${JSON.stringify(secrets)}\n`);
  }
  // process.kill, not child.kill: after child.kill Deno reports the signal as its exit status
  // even when the host caught it and exited 0 (measured, Deno 2.9.6)
  const forward = (signal: NodeJS.Signals) => () => child.pid && process.kill(child.pid, signal);
  for (const s of ["SIGINT", "SIGTERM"] as const) process.on(s, forward(s));
  return new Promise((resolve) => {
    child.on("error", (e) => {
      process.stderr.write(`lanes: could not ${what}: ${e.message}\n`);
      resolve(1);
    });
    child.on("exit", (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
  });
}

/** Reads the secrets line; then, when stdin closes (the CLI in front of us died), stops the host. */
function receiveSecrets(): Promise<void> {
  return new Promise((resolve) => {
    let text = "";
    let got = false;
    const stdin = process.stdin;
    stdin.setEncoding("utf8");
    stdin.on("data", (chunk: string) => {
      if (got) return;
      text += chunk;
      const nl = text.indexOf("\n");
      if (nl < 0) return;
      got = true;
      for (const [k, v] of Object.entries(JSON.parse(text.slice(0, nl)) as Record<string, string>)) secrets.set(k, v);
      resolve();
    });
    stdin.on("end", () => {
      resolve();
      // the same path as a SIGTERM: stop accepting, finish what is in flight, exit
      process.kill(process.pid, "SIGTERM");
    });
    stdin.on("error", () => {});
  });
}
