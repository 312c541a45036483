/**
 * A host under test, in its own process on the runtime being measured: the real `lanes start`
 * CLI, or the `direct` baseline server. Start-up is raced against the process exiting and a
 * deadline, so a broken start never hangs the bench; its stderr comes with the error.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { allocatorTunedIn, keepingEnv } from "../../adapters/allocator.ts";
import { hostEnvironment } from "../../adapters/env.ts";
import type { GeneratorCommand } from "./load.ts";
import type { BenchRuntime } from "./report.ts";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const LANES_CLI = fileURLToPath(new URL("../../runtime/cli/lanes.ts", import.meta.url));
const DIRECT_HOST = fileURLToPath(new URL("./direct-host.ts", import.meta.url));
const NODE_LANES = fileURLToPath(new URL("../../bin/lanes.mjs", import.meta.url));
const NODE_RUN = fileURLToPath(new URL("../../bin/node-run.mjs", import.meta.url));
const GENERATOR = fileURLToPath(new URL("./generator-main.ts", import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 8_000;

export interface HostProcess {
  url: string;
  pid: number;
  alive(): boolean;
  /** Last lines of its output (start-up log, warnings, crash reports). */
  stderrTail(): string;
  /** What its start-up log says start-up took (`ready in N ms`: the CLI's own part, after the runtime booted). */
  readyInMs(): number | undefined;
  /** SIGTERM, then SIGKILL if it has not exited within a few seconds. */
  stop(): Promise<void>;
}

/**
 * How to run a TypeScript entry file on each runtime. Node hosts get the young generation that
 * `lanes start` gets from package.json and bin/lanes.mjs (README, Operating: the host's heap),
 * and run from a prebuilt bundle as `lanes` does on Node (bin/node-cli.mjs): through tsx a host
 * took 1.5 s to start instead of 0.5 and held 38 MB more (../README.md, How a cell is
 * measured). Another checkout's CLI (`cli`) still runs through tsx.
 */
function command(runtime: BenchRuntime, binary: string, file: string, args: string[]): [string, string[]] {
  switch (runtime) {
    case "node": {
      const entry = file === LANES_CLI ? [NODE_LANES] : file === DIRECT_HOST || file === GENERATOR ? [NODE_RUN, file] : ["--import", "tsx", file];
      return [binary, ["--max-semi-space-size=64", "--no-warnings", ...entry, ...args]];
    }
    case "bun":
      return [binary, [file, ...args]];
    case "deno":
      return [binary, ["run", "-A", file, ...args]];
  }
}

/** `lanes <args>` from this checkout's sources on `runtime`, as the measured hosts are run. */
export function lanesCommand(runtime: BenchRuntime, binary: string, args: string[]): [string, string[]] {
  return command(runtime, binary, LANES_CLI, args);
}

/**
 * The load generator (generator-main.ts) on `runtime`, the bench's own, as the hosts are run,
 * with its allocator told to keep what it frees (adapters/allocator.ts) unless the operator tuned
 * it: with glibc's own thresholds a node generator faulted its answers' memory in again, page by
 * page, and spent a third more CPU a `body` request (../README.md, The load generator).
 */
export function generatorCommand(runtime: BenchRuntime, binary: string): GeneratorCommand {
  const [cmd, args] = command(runtime, binary, GENERATOR, []);
  return [cmd, args, allocatorTunedIn(process.env) ? {} : keepingEnv(runtime, 128)];
}

const live = new Set<ChildProcess>();

/** Kill every host still running (the bench was interrupted or failed). */
export function killAllHosts(): void {
  for (const c of live) c.kill("SIGKILL");
  live.clear();
}

/**
 * `lanes start` without its access log (the direct baseline writes none either; a line per
 * request is a cost of its own, measured apart in ../README.md); `extra`: more flags.
 * `cli`: another checkout's lanes CLI, to measure a change against the code before it (its
 * own flags only: it may not know these).
 */
export function startLanesHost(runtime: BenchRuntime, binary: string, dir: string, o: { extra?: string[]; cli?: string } = {}): Promise<HostProcess> {
  const flags = o.cli ? [] : ["--log", "pretty", "--no-access-log", ...(o.extra ?? [])];
  return startHost(runtime, ...command(runtime, binary, o.cli ?? LANES_CLI, ["start", dir, "--port", "0", "--host", "127.0.0.1", ...flags]));
}

export function startDirectHost(runtime: BenchRuntime, binary: string, dir: string, fn: string): Promise<HostProcess> {
  return startHost(runtime, ...command(runtime, binary, DIRECT_HOST, [dir, fn, "--port", "0"]));
}

function startHost(runtime: BenchRuntime, cmd: string, args: string[]): Promise<HostProcess> {
  const child = spawn(cmd, args, {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    // allow-listed, with what the CLI tells the host's allocator (the direct host too: only the
    // hop differs); with more or less, `lanes start` would re-execute itself and `pid` would not be the host
    env: { ...hostEnvironment(runtime), NO_COLOR: "1" },
  });
  live.add(child);
  const tail: string[] = [];
  let exited = false;
  let readyIn: number | undefined;
  const closed = new Promise<void>((resolve) =>
    child.on("close", () => {
      exited = true;
      live.delete(child);
      resolve();
    }),
  );
  const readReadyIn = (d: string) => (readyIn ??= Number(/ready in (\d+) ms/.exec(d)?.[1] ?? NaN) || undefined);
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    readReadyIn(d);
    tail.push(...d.split("\n").filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - 30));
  });
  const handle = (url: string): HostProcess => ({
    url,
    pid: child.pid!,
    alive: () => !exited,
    stderrTail: () => tail.join("\n"),
    readyInMs: () => readyIn,
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      const late = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
      await closed;
      clearTimeout(late);
    },
  });
  return new Promise<HostProcess>((resolve, reject) => {
    let out = "";
    let started = false;
    const fail = (why: string) => {
      if (started) return;
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${cmd} ${args.join(" ")}: ${why}\n${tail.join("\n")}`));
    };
    const timer = setTimeout(() => fail(`no "listening on" line within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      // the host's log is on stdout: keep its tail for the error report
      readReadyIn(d);
      tail.push(...d.split("\n").filter(Boolean));
      tail.splice(0, Math.max(0, tail.length - 30));
      if (started) return;
      out += d;
      const m = /listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m && !started) {
        started = true;
        clearTimeout(timer);
        resolve(handle(m[1]!));
      }
    });
    child.on("error", (e) => fail(e.message));
    void closed.then(() => fail(`exited before listening (code ${child.exitCode}, signal ${child.signalCode})`));
  });
}
