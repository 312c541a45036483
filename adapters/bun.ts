/**
 * Bun host: Bun's node:http, as on Node (adapters/node-http.ts). Not Bun.serve: it holds a
 * streamed response's head until the first body chunk and never sends a status text
 * (README.md in this folder, Serving HTTP).
 */
import { commonAdapter } from "./node-compat.ts";
import { serveNodeHttp } from "./node-http.ts";
import type { RuntimeAdapter } from "./types.ts";

const Bun = (globalThis as unknown as { Bun: { version: string } }).Bun;

export const bunAdapter: RuntimeAdapter = {
  name: "bun",
  version: Bun.version,
  // Bun silently ignores worker resourceLimits (README.md in this folder, Workers): heap is not enforced in isolates.
  // A message doorbell: Atomics.notify was 16% of the host thread's samples under load
  // (README.md in this folder, Channel).
  caps: { workerHeapLimit: false, terminateStopsSpin: true, transferableStreams: false, ringWakeup: "messages", ringReads: "in-place" },
  ...commonAdapter("bun", false),
  serve: serveNodeHttp,
};
