/** Node host: Hono on @hono/node-server. https://github.com/honojs/node-server */
import { serve as nodeServe } from "@hono/node-server";
import type { Server } from "node:http";
import type { RunningServer, RuntimeAdapter } from "./types.ts";
import { commonAdapter } from "./node-compat.ts";

export const nodeAdapter: RuntimeAdapter = {
  name: "node",
  version: process.versions.node,
  caps: { workerHeapLimit: true, terminateStopsSpin: true, transferableStreams: true },
  ...commonAdapter("node", true),
  serve(fetch, { port, hostname }) {
    return new Promise<RunningServer>((resolve, reject) => {
      const server = nodeServe({ fetch, port, hostname }, (info) => {
        resolve({ port: info.port, hostname, shutdown: (graceMs) => closeGracefully(server as Server, graceMs) });
      }) as Server;
      server.once("error", reject);
    });
  },
};

/**
 * server.close() alone waits for every keep-alive socket (3.3 s measured, runtime-matrix P6):
 * sweep idle connections while in-flight requests finish, then cut the rest at the deadline.
 */
function closeGracefully(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), 25);
    const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve();
    });
    server.closeIdleConnections();
  });
}
