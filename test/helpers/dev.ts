/**
 * `lanes dev` as a user runs it, for the dev suites: the real CLI in its own process under the
 * runtime running the test file, serving a folder made for the test.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { hostEnvironment } from "../../adapters/env.ts";
import { adapter } from "./host.ts";
import { scratchDir } from "./scratch.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const cli = join(root, "runtime/cli/lanes.ts");
const devFixtures = join(root, "test/fixtures/dev");

/** The CLI under this file's runtime: `node bin/lanes.mjs`, `bun`, `deno run -A`. */
export function cliArgs(args: string[]): [string, string[]] {
  if (adapter.name === "node") return [process.execPath, [join(root, "bin/lanes.mjs"), ...args]];
  if (adapter.name === "bun") return [process.execPath, [cli, ...args]];
  return [process.execPath, ["run", "-A", cli, ...args]];
}

export interface Cli {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

export function runCli(args: string[]): Cli {
  const [cmd, argv] = cliArgs(args);
  // the allow-listed environment: the CLI then serves in this process instead of re-executing itself
  const child = spawn(cmd, argv, { cwd: root, env: { ...hostEnvironment(adapter.name), NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, output: () => out, exited };
}

export interface Dev extends Cli {
  url: string;
  stop(): Promise<void>;
}

export async function startDev(dir: string, extra: string[] = []): Promise<Dev> {
  // pretty unless a test asks otherwise: its output is piped, where the default is JSON
  const c = runCli(["dev", dir, "--port", "0", ...(extra.includes("--log") ? [] : ["--log", "pretty"]), ...extra]);
  const url = await until(
    () => /listening on (http:\/\/[\d.:]+)/.exec(c.output())?.[1],
    30_000,
    () => `dev did not start:\n${c.output()}`,
  );
  return {
    ...c,
    url,
    async stop() {
      c.child.kill("SIGTERM"); // by PID: this child only
      const late = setTimeout(() => c.child.kill("SIGKILL"), 5000);
      await c.exited;
      clearTimeout(late);
    },
  };
}

export async function until<T>(probe: () => T | undefined | Promise<T | undefined>, ms: number, why: () => string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(why());
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A functions folder inside the repo (bare imports resolve from its node_modules). */
export function makeDir(manifest: unknown, files: Record<string, string>): string {
  const dir = scratchDir("dev-");
  for (const [to, from] of Object.entries(files)) {
    mkdirSync(join(dir, to, ".."), { recursive: true });
    cpSync(join(devFixtures, from), join(dir, to));
  }
  writeFileSync(join(dir, "lanes.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}
