/** Node host: Hono on @hono/node-server. https://github.com/honojs/node-server */
import { serve as nodeServe } from "@hono/node-server";
import type { Server } from "node:http";
import type { RequestInfo, RunningServer, RuntimeAdapter } from "./types.ts";
import { commonAdapter } from "./node-compat.ts";

export const nodeAdapter: RuntimeAdapter = {
  name: "node",
  version: process.versions.node,
  caps: { workerHeapLimit: true, terminateStopsSpin: true, transferableStreams: true },
  ...commonAdapter("node", true),
  serve(fetch, { port, hostname }) {
    return new Promise<RunningServer>((resolve, reject) => {
      const server = nodeServe({ fetch: (request, env) => fetch(request, requestInfo(env.incoming)), port, hostname }, (info) => {
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

/**
 * The request's header lines straight from Node's parser: `[...request.headers]` would first
 * build an undici Headers object (several µs a request), only for the lane to flatten it again.
 */
function requestInfo(incoming: { rawHeaders: string[]; socket: { remoteAddress?: string } }): RequestInfo {
  return {
    remoteAddress: () => incoming.socket.remoteAddress,
    headerPairs() {
      const raw = incoming.rawHeaders;
      const pairs: [string, string][] = [];
      for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!]);
      return pairs;
    },
  };
}
