/**
 * Starts a real lanes host (in this process, on whichever runtime runs the test file) over a
 * temporary folder holding a manifest and fixture functions, on a free port.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadAdapter } from "../../adapters/mod.ts";
import { startHost, type Host } from "../../runtime/host/host.ts";
import { createLogger } from "../../runtime/log.ts";
import { withCause } from "./fetch-cause.ts";

export const fixtures = fileURLToPath(new URL("../fixtures/fns/", import.meta.url));
export const adapter = await loadAdapter();
const scratch = fileURLToPath(new URL("../../.lanes/test-tmp/", import.meta.url));

export interface TestHost {
  url: string;
  host: Host;
  dir: string;
  logs: string[];
  /** When each of `logs` was written (Date.now()), for checks against the host's own timing. */
  logTimes: number[];
  fetch(path: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

/** A folder with `lanes.json` = { functions } and the fixture files it names copied in. */
export function makeFunctionsDir(functions: Record<string, Record<string, unknown>>, extraFiles: Record<string, string> = {}, top: Record<string, unknown> = {}): string {
  // inside the repo, so bare imports (hono) resolve from its node_modules like a user's folder
  mkdirSync(scratch, { recursive: true });
  const dir = mkdtempSync(join(scratch, "fns-"));
  for (const f of Object.values(functions)) {
    const entry = f.entry as string;
    if (!entry.includes("..") && !(entry in extraFiles)) cpSync(join(fixtures, entry), join(dir, entry));
  }
  for (const [name, text] of Object.entries(extraFiles)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ ...top, functions }, null, 2));
  return dir;
}

export async function startTestHost(
  functions: Record<string, Record<string, unknown>>,
  o: { dev?: boolean; extraFiles?: Record<string, string>; top?: Record<string, unknown>; metrics?: boolean; otlpEndpoint?: string; quietMs?: number } = {},
): Promise<TestHost> {
  const dir = makeFunctionsDir(functions, o.extraFiles, o.top);
  const logs: string[] = [];
  const logTimes: number[] = [];
  const log = createLogger((line) => {
    logs.push(line);
    logTimes.push(Date.now());
    if (process.env.LANES_TEST_VERBOSE) process.stderr.write(line);
  });
  const host = await startHost({
    dir,
    port: 0,
    hostname: "127.0.0.1",
    dev: o.dev ?? false,
    adapter,
    log,
    ...(o.metrics === false ? { metrics: false } : {}),
    ...(o.otlpEndpoint ? { otlpEndpoint: o.otlpEndpoint } : {}),
    ...(o.quietMs ? { quietMs: o.quietMs } : {}),
  });
  return {
    url: host.url,
    host,
    dir,
    logs,
    logTimes,
    fetch: (path, init) => fetch(host.url + path, init).catch((e) => Promise.reject(withCause(e, `${init?.method ?? "GET"} ${path}`))),
    async stop() {
      await host.stop(2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Both lanes, for suites that must hold in each. */
export const LANES = ["isolate", "process"] as const;
