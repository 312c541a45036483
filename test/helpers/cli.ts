/** The command that runs the lanes CLI on the same runtime as this test file. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { hostEnvironment, runsAgain } from "../../adapters/env.ts";
import { childPids } from "./chaos.ts";
import { adapter } from "./host.ts";
import { spawnProcess, type Exit } from "./spawn.ts";

export const cliEntry = fileURLToPath(new URL("../../runtime/cli/lanes.ts", import.meta.url));
/** What `lanes` and `npm start` run on Node: the CLI's prebuilt bundle, or tsx (bin/node-cli.mjs). */
export const nodeBin = fileURLToPath(new URL("../../bin/lanes.mjs", import.meta.url));

export function cliCommand(args: string[]): [string, string[]] {
  switch (adapter.name) {
    case "node":
      // by its own path: the command may run in a folder with no node_modules
      return [process.execPath, [nodeBin, ...args]];
    case "bun":
      return [process.execPath, [cliEntry, ...args]];
    case "deno":
      return [process.execPath, ["run", "-A", cliEntry, ...args]];
  }
}

export interface RunningCli {
  url: string;
  /** The process this test started. */
  pid: number;
  /**
   * The host: `pid` itself, or, when the CLI re-executed itself to shed variables that are not
   * allow-listed (adapters/env.ts), the host it runs in front of.
   */
  hostPid: number;
  /** Everything the CLI printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code (or signal) once it has exited. */
  exited: Promise<Exit>;
  kill(signal?: "SIGTERM" | "SIGINT" | "SIGKILL"): void;
}

export interface CliOptions {
  timeoutMs?: number;
  /** Its environment; by default the allow-listed part of this one, so the host is the process started. */
  env?: Record<string, string>;
  /** Descriptors it inherits at fds 3, 4, ... */
  inherit?: (number | "ignore")[];
}

/** Start `lanes <args>` (e.g. start DIR --port 0) and wait for its `listening on` line. */
export async function startCli(args: string[], o: CliOptions = {}): Promise<RunningCli> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const [cmd, argv] = cliCommand(args);
  const env = o.env ?? hostEnvironment(adapter.name);
  const child = spawnProcess(cmd, argv, env, o.inherit);
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`lanes ${args.join(" ")}: no "listening on" within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    child.onOutput((text) => {
      out += text;
      const m = /listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void child.exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`lanes ${args.join(" ")} exited with ${code} before listening:\n${out}`));
    });
  });
  // The CLI runs the host again only when its environment holds more than the allow-list or
  // lacks what the host's allocator is told (adapters/env.ts); otherwise it is the host, and a child it has just forked still shows the
  // host's command line until it execs: taking that one for the host failed a clean clone's
  // sandbox-escape suite ("the host lives", while the host went on serving).
  const relaunched = runsAgain(adapter.name, env);
  const script = adapter.name === "node" ? nodeBin : cliEntry;
  const host = relaunched ? childPids(child.pid).find((pid) => cmdline(pid).includes(script)) : child.pid;
  return { url, pid: child.pid, hostPid: host ?? child.pid, output: () => out, exited: child.exited, kill: child.kill };
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}
