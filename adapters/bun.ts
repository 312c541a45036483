/** Bun host: Bun.serve. https://bun.sh/docs/api/http */
import type { RuntimeAdapter } from "./types.ts";
import { commonAdapter } from "./node-compat.ts";
import { fetchCallback } from "./web-exchange.ts";

interface BunServer {
  port: number;
  requestIP(request: Request): { address: string } | null;
  readonly pendingRequests: number;
  stop(closeActiveConnections?: boolean): Promise<void>;
}
interface BunGlobal {
  version: string;
  serve(o: {
    port: number;
    hostname: string;
    fetch: (r: Request, server: BunServer) => Response | Promise<Response>;
    idleTimeout?: number;
  }): BunServer;
}
const Bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;

export const bunAdapter: RuntimeAdapter = {
  name: "bun",
  version: Bun.version,
  // Bun silently ignores worker resourceLimits (adapters/README.md, Workers): heap is not enforced in isolates.
  caps: { workerHeapLimit: false, terminateStopsSpin: true, transferableStreams: false, ringWakeup: "atomics" },
  ...commonAdapter("bun", false),
  async serve(handler, { port, hostname }) {
    // idleTimeout 0: a streaming response may stay quiet longer than Bun's 10 s default
    const server = Bun.serve({
      port,
      hostname,
      fetch: (request, s) => fetchCallback(handler, request, () => s.requestIP(request)?.address ?? ""),
      idleTimeout: 0,
    });
    return {
      port: server.port,
      hostname,
      async shutdown(graceMs) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), graceMs)));
        // stop(false) never resolves once a request was answered without its body being read
        // (a 503/413 refused before reading; measured, Bun 1.4.5), although no request is
        // pending: once none is, close what is left (idle keep-alive connections) at once.
        const idle = setInterval(() => server.pendingRequests === 0 && void server.stop(true), 25);
        const done = await Promise.race([server.stop(false).then(() => "done" as const), late]);
        clearTimeout(timer);
        clearInterval(idle);
        if (done === "late") await server.stop(true);
      },
    };
  },
};
