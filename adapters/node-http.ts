/**
 * Serving over node:http with @hono/node-server (https://github.com/honojs/node-server): the
 * Node host's server, and the Bun host's too. Bun.serve holds a streamed response's head until
 * the body's first chunk (oven-sh/bun#33660) and never sends a Response's statusText
 * (oven-sh/bun#36003); Bun's node:http sends both as Node does (see adapters/README.md,
 * Serving HTTP).
 */
import { serve as nodeServe } from "@hono/node-server";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { RequestInfo, RunningServer, ServeOptions } from "./types.ts";

type Fetch = (request: Request, info?: RequestInfo) => Response | Promise<Response>;

export function serveNodeHttp(fetch: Fetch, { port, hostname }: ServeOptions): Promise<RunningServer> {
  return new Promise<RunningServer>((resolve, reject) => {
    const server = nodeServe(
      // an HTTP/1.1 server: incoming and outgoing are node:http's (never the HTTP/2 kinds)
      { fetch: (request, env) => fetch(request, requestInfo(env.incoming as IncomingMessage, env.outgoing as ServerResponse)), port, hostname },
      (info) => resolve({ port: info.port, hostname, shutdown: (graceMs) => closeGracefully(server as Server, graceMs) }),
    ) as Server;
    server.once("error", reject);
  });
}

/**
 * server.close() alone waits for every keep-alive socket (3.3 s measured, adapters/README.md,
 * Serving HTTP): sweep idle connections while in-flight requests finish, then cut the rest at
 * the deadline.
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
 * The request's header lines straight from the parser: `[...request.headers]` would first
 * build an undici Headers object (several µs a request), only for the lane to flatten it again.
 */
function requestInfo(incoming: IncomingMessage, outgoing: ServerResponse): RequestInfo {
  return {
    headerPairs() {
      const raw = incoming.rawHeaders;
      const pairs: [string, string][] = [];
      for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!]);
      return pairs;
    },
    // @hono/node-server writes the head with writeHead(status, headers), which takes the
    // reason phrase from statusMessage
    statusText(text) {
      outgoing.statusMessage = text;
    },
    // An errored body stream makes @hono/node-server print the raw error and write its message
    // into the body; ending the connection cuts the response as it should, quietly. end(), not
    // destroy(): destroy() drops what was written but not yet flushed (the head, on Node).
    cutBody() {
      const socket = outgoing.socket;
      if (socket && !socket.destroyed) socket.end();
      else outgoing.destroy();
    },
    // the response's close event, not request.signal: an AbortController per request costs
    // Node 20 more (its signal is made transferable)
    onClientGone(gone) {
      const onClose = () => {
        if (!outgoing.writableFinished) gone();
      };
      outgoing.once("close", onClose);
      return () => outgoing.off("close", onClose);
    },
  };
}
