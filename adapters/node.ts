/** Node host: node:http (adapters/node-http.ts). */
import v8 from "node:v8";
import { commonAdapter } from "./node-compat.ts";
import { serveNodeHttp } from "./node-http.ts";
import type { RuntimeAdapter } from "./types.ts";

// The host runs with large semi-spaces (`--max-semi-space-size=64`, README: The host's heap), and
// V8 gives that flag to every isolate made later too, over a worker's resourceLimits: isolate-lane
// workers then kept megabytes alive through each scavenge (README.md in this folder, Memory). The host's
// own heap is made by now; cleared, the flag leaves workers the young generation they are given.
v8.setFlagsFromString("--max-semi-space-size=0");

export const nodeAdapter: RuntimeAdapter = {
  name: "node",
  version: process.versions.node,
  caps: { workerHeapLimit: true, terminateStopsSpin: true, transferableStreams: true, ringWakeup: "atomics", ringReads: "in-place" },
  ...commonAdapter("node", true),
  serve: serveNodeHttp,
};
