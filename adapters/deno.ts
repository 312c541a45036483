/** Deno host: Deno.serve. https://docs.deno.com/api/deno/~/Deno.serve */
import { DEFAULT_CONNECTION_LIMITS, type RuntimeAdapter } from "./types.ts";
import { commonAdapter, spawnChild } from "./node-compat.ts";
import { denoHeaderLines } from "./deno-request.ts";
import { fetchCallback } from "./web-exchange.ts";
import { collectGarbage } from "./gc.ts";
import { keepFreedMemory, trimMalloc } from "./malloc-trim.ts";
import { growChildPipes } from "./pipe-size.ts";
import { watchIdleConnections, type IdleConnections } from "./deno-idle-conns.ts";

interface DenoServer {
  addr: { port: number };
  shutdown(): Promise<void>;
  finished: Promise<void>;
}
interface DenoGlobal {
  version: { deno: string };
  errors: { BadResource: new (...args: never[]) => Error };
  serve(
    o: { port: number; hostname: string; onListen?: () => void; onError?: (e: unknown) => Response; signal?: AbortSignal },
    fetch: (r: Request, info: { remoteAddr: { hostname: string; port: number }; completed: Promise<void> }) => Response | Promise<Response>,
  ): DenoServer;
}
const Deno = (globalThis as unknown as { Deno: DenoGlobal }).Deno;

export const denoAdapter: RuntimeAdapter = {
  name: "deno",
  version: Deno.version.deno,
  // terminate() does not stop a worker spinning in a CPU loop (README.md in this folder, Workers):
  // such a worker is marked leaked and the function should move to the process lane.
  caps: { workerHeapLimit: true, terminateStopsSpin: false, transferableStreams: true, ringWakeup: "messages", ringReads: "plain-copy" },
  ...commonAdapter("deno", true),
  // a 256 KiB body crosses a grown pipe in one write, not four (pipe-size.ts)
  spawnChild: (file, o) => spawnChild(file, o, "deno", growChildPipes),
  collectGarbage() {
    collectGarbage();
    trimMalloc();
  },
  async serve(handler, { port, hostname, connections = DEFAULT_CONNECTION_LIMITS, refused }) {
    keepFreedMemory(process.env);
    const abort = new AbortController();
    // onError: a body stream that fails after the head (the host cut it short and logged why)
    // would otherwise be printed by Deno.serve as a raw error (README.md in this folder, Serving HTTP);
    // the handler itself never throws
    const onError = () => new Response(null, { status: 500 });
    const lines = denoHeaderLines();
    // connections that hold the server without a request are closed (deno-idle-conns.ts). Some
    // requests never reach the callback: Deno.serve answers a CONNECT to a path, and a request
    // with an Upgrade header and a body, with an empty 400 of its own (measured, Deno 2.9.6)
    let idle: IdleConnections | undefined;
    // while it drains, answers say Connection: close (a client would send its next request into a
    // connection being closed); Deno.serve's own shutdown does not (measured, Deno 2.9.6)
    let draining = false;
    const isDraining = () => draining;
    // Node's and Bun's node:http tell a client how long an idle connection is kept (Keep-Alive:
    // timeout=N, and close it a second later); Deno.serve says nothing, and Node's fetch then keeps
    // one 4 s, past a host's --keep-alive-timeout of 1-3: a request it sends as the host's close
    // is on its way fails. The watch closes it no sooner than N s (deno-idle-conns.ts). Given with
    // the answer's own headers: set on the Response after, it cost a hello 1 µs of the host's CPU
    const keepAlive = `timeout=${Math.floor(connections.keepAliveMs / 1000)}`;
    const options = { lines, draining: isDraining, keepAlive, ...(refused ? { refused } : {}) };
    const server = Deno.serve({ port, hostname, onListen() {}, onError, signal: abort.signal }, (request, info) => {
      idle?.request(info);
      return fetchCallback(
        handler,
        request,
        () => info.remoteAddr.hostname,
        options,
        () => idle?.closeAfter(info),
      );
    });
    idle = watchIdleConnections(hostname, server.addr.port, connections);
    return {
      port: server.addr.port,
      hostname,
      async shutdown(graceMs) {
        draining = true;
        idle?.stop();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), graceMs)));
        const done = await Promise.race([server.shutdown().then(() => "done" as const), late]);
        clearTimeout(timer);
        // only cut what is still open: aborting after a finished shutdown throws BadResource
        if (done === "late") cutOpenConnections(abort);
      },
    };
  },
};

/**
 * Abort a server whose shutdown() has begun, to cut the connections still open. Deno's listener
 * of that signal then closes the listener shutdown() already closed and throws BadResource; an
 * error thrown by an event listener is reported, not thrown, and an unhandled report ends the
 * process, so a host whose grace ran out died instead of exiting (measured, Deno 2.9.6: every
 * abort after a shutdown that had a request in flight). The report comes during abort(), so a
 * listener present just then marks that one error handled. Oak met the same listener:
 * https://github.com/oakserver/oak/pull/639
 */
function cutOpenConnections(abort: AbortController): void {
  const handled = (e: ErrorEvent) => {
    if (e.error instanceof Deno.errors.BadResource) e.preventDefault();
  };
  globalThis.addEventListener("error", handled);
  try {
    abort.abort();
  } finally {
    globalThis.removeEventListener("error", handled);
  }
}
