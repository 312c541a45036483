/**
 * Isolate-lane workers on a Node, Bun or Deno host: node:worker_threads, which all three implement
 * (README.md in this folder, Workers).
 */
import { Worker } from "node:worker_threads";
import type { GuestExit, WorkerHandle, WorkerOptions } from "./types.ts";

/**
 * A Node worker's young generation, in MB (2 MB semi-spaces). At Node's default (16 MB semi-spaces)
 * a worker serving many requests at once kept about 1.8 MB alive through each scavenge, copied it
 * twice and left it to full collections: a third of the worker's time and a busy GC thread. At
 * this size almost nothing survives (README.md in this folder, Memory). Bun ignores it; Deno's workers
 * kept little through a scavenge before and did not change.
 */
const WORKER_YOUNG_GENERATION_MB = 6;

/**
 * A Node worker inherits the host's command-line options, `--import tsx` with them: tsx would
 * start again in every worker, whose guest code is already JavaScript (twice the CPU of a
 * worker's start and 4 MB more host memory per worker: README.md in this folder, Workers). A worker
 * given its own list refuses process-wide options (`--max-semi-space-size`:
 * ERR_WORKER_INVALID_EXEC_ARGV), so it gets only the per-thread ones worth keeping: profiling
 * and source maps. Bun and Deno run TypeScript themselves and are given nothing here.
 */
const PER_THREAD_OPTION = /^--(cpu-prof|heap-prof|enable-source-maps)/;

function workerExecArgv(): { execArgv?: string[] } {
  const versions = process.versions as Record<string, string | undefined>;
  if (versions.bun || versions.deno) return {};
  return { execArgv: process.execArgv.filter((a) => PER_THREAD_OPTION.test(a)) };
}

export function spawnWorker(file: string, o: WorkerOptions, heapLimit: boolean): WorkerHandle {
  const worker = new Worker(file, {
    workerData: o.data,
    env: o.env,
    ...workerExecArgv(),
    resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB, ...(heapLimit ? { maxOldGenerationSizeMb: o.heapMb } : {}) },
  });
  let error: GuestExit["error"];
  let exited: GuestExit | undefined;
  const exitListeners: ((e: GuestExit) => void)[] = [];
  worker.on("error", (e: Error & { code?: string }) => {
    error = { name: e.name, message: e.message, ...(e.code ? { code: e.code } : {}) };
  });
  worker.on("exit", (code) => {
    exited = { code, signal: null, stderrTail: "", ...(error ? { error } : {}) };
    for (const l of exitListeners) l(exited);
  });
  return {
    port: {
      post: (m, transfer) => worker.postMessage(m, transfer),
      onMessage: (l) => void worker.on("message", l),
    },
    onExit: (l) => (exited ? l(exited) : void exitListeners.push(l)),
    kill: async () => {
      if (!exited) await worker.terminate();
    },
    rss: () => undefined,
    pid: () => undefined,
  };
}
