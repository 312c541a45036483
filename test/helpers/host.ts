/**
 * Starts a real lanes host (in this process, on whichever runtime runs the test file) over a
 * temporary folder holding a manifest and fixture functions, on a free port.
 */
import { cpSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadAdapter } from "../../adapters/mod.ts";
import type { ConnectionLimits } from "../../adapters/types.ts";
import type { RequestLog } from "../../runtime/host/served.ts";
import { startHost, type Host } from "../../runtime/host/host.ts";
import { createLogger } from "../../runtime/log.ts";
import { withCause } from "./fetch-cause.ts";
import { scratchDir } from "./scratch.ts";

export const fixtures = fileURLToPath(new URL("../fixtures/fns/", import.meta.url));
export const adapter = await loadAdapter();

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
  const dir = scratchDir("fns-");
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
  o: {
    dev?: boolean;
    extraFiles?: Record<string, string>;
    top?: Record<string, unknown>;
    metrics?: boolean;
    otlpEndpoint?: string;
    quietMs?: number;
    cacheUpkeepMs?: number;
    connections?: ConnectionLimits;
    /** Each answered request as the host counts it (its access log entry: duration from arrival). */
    onRequest?: (entry: RequestLog) => void;
  } = {},
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
    ...(o.cacheUpkeepMs ? { cacheUpkeepMs: o.cacheUpkeepMs } : {}),
    ...(o.connections ? { connections: o.connections } : {}),
    ...(o.onRequest ? { onRequest: o.onRequest } : {}),
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
export type Lane = (typeof LANES)[number];

/** One host per lane, started at once: `functionsFor(lane)` is each one's manifest; `o` as for startTestHost. */
export async function startLaneHosts(
  functionsFor: (lane: Lane) => Record<string, Record<string, unknown>>,
  o?: Parameters<typeof startTestHost>[1],
): Promise<Record<Lane, TestHost>> {
  const hosts = await Promise.allSettled(LANES.map((lane) => startTestHost(functionsFor(lane), o)));
  const started = hosts.flatMap((h) => (h.status === "fulfilled" ? [h.value] : []));
  const failed = hosts.find((h) => h.status === "rejected");
  if (failed) {
    await Promise.all(started.map((h) => h.stop()));
    throw failed.reason;
  }
  return Object.fromEntries(LANES.map((lane, i) => [lane, started[i]!])) as Record<Lane, TestHost>;
}

/**
 * Runs `body` in both lanes at the same time, each against its own host, and fails with the first
 * lane's failure, named. For tests that mostly wait on the host's own timers (a function that
 * works 1.2 s, a refused body read for 2 s): the two lanes' waits overlap instead of adding up.
 */
export async function inBothLanes(hosts: Record<Lane, TestHost>, body: (h: TestHost, lane: Lane) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(LANES.map((lane) => body(hosts[lane], lane)));
  for (const [i, r] of results.entries()) {
    if (r.status === "fulfilled") continue;
    const e = r.reason as unknown;
    if (e instanceof Error) e.message = `${LANES[i]} lane: ${e.message}`;
    throw e;
  }
}
