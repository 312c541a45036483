/** Node host: node:http (adapters/node-http.ts). */
import { commonAdapter } from "./node-compat.ts";
import { serveNodeHttp } from "./node-http.ts";
import type { RuntimeAdapter } from "./types.ts";

export const nodeAdapter: RuntimeAdapter = {
  name: "node",
  version: process.versions.node,
  caps: { workerHeapLimit: true, terminateStopsSpin: true, transferableStreams: true, ringWakeup: "atomics" },
  ...commonAdapter("node", true),
  serve: serveNodeHttp,
};
