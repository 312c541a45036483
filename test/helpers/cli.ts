/** The command that runs the lanes CLI on the same runtime as this test file. */
import { fileURLToPath } from "node:url";
import { adapter } from "./host.ts";
import { spawnProcess, type Exit } from "./spawn.ts";

export const cliEntry = fileURLToPath(new URL("../../runtime/cli/lanes.ts", import.meta.url));

export function cliCommand(args: string[]): [string, string[]] {
  switch (adapter.name) {
    case "node":
      // tsx by its own path: the command may run in a folder with no node_modules
      return [process.execPath, ["--import", import.meta.resolve("tsx"), cliEntry, ...args]];
    case "bun":
      return [process.execPath, [cliEntry, ...args]];
    case "deno":
      return [process.execPath, ["run", "-A", cliEntry, ...args]];
  }
}

export interface RunningCli {
  url: string;
  pid: number;
  /** Everything the CLI printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code (or signal) once it has exited. */
  exited: Promise<Exit>;
  kill(signal?: "SIGTERM" | "SIGINT" | "SIGKILL"): void;
}

/** Start `lanes <args>` (e.g. start DIR --port 0) and wait for its `listening on` line. */
export async function startCli(args: string[], timeoutMs = 30_000): Promise<RunningCli> {
  const [cmd, argv] = cliCommand(args);
  const child = spawnProcess(cmd, argv);
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
  return { url, pid: child.pid, output: () => out, exited: child.exited, kill: child.kill };
}
