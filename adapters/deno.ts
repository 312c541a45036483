/** Deno host: Deno.serve. https://docs.deno.com/api/deno/~/Deno.serve */
import type { RuntimeAdapter } from "./types.ts";
import { commonAdapter } from "./node-compat.ts";

interface DenoServer {
  addr: { port: number };
  shutdown(): Promise<void>;
  finished: Promise<void>;
}
interface DenoGlobal {
  version: { deno: string };
  serve(
    o: { port: number; hostname: string; onListen?: () => void; onError?: (e: unknown) => Response; signal?: AbortSignal },
    fetch: (r: Request) => Response | Promise<Response>,
  ): DenoServer;
}
const Deno = (globalThis as unknown as { Deno: DenoGlobal }).Deno;

export const denoAdapter: RuntimeAdapter = {
  name: "deno",
  version: Deno.version.deno,
  // terminate() does not stop a worker spinning in a CPU loop (denoland/deno#35657, runtime-matrix P1):
  // such a worker is marked leaked and the function should move to the process lane.
  caps: { workerHeapLimit: true, terminateStopsSpin: false, transferableStreams: true },
  ...commonAdapter("deno", true),
  async serve(fetch, { port, hostname }) {
    const abort = new AbortController();
    // onError: a response body stream that fails after the head (the host cut it and logged
    // why) would otherwise be printed by Deno.serve as a raw error; the app itself never throws
    const onError = () => new Response(null, { status: 500 });
    const server = Deno.serve({ port, hostname, onListen() {}, onError, signal: abort.signal }, fetch);
    return {
      port: server.addr.port,
      hostname,
      async shutdown(graceMs) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), graceMs)));
        const done = await Promise.race([server.shutdown().then(() => "done" as const), late]);
        clearTimeout(timer);
        // aborting after a finished shutdown throws BadResource: only cut what is still open
        if (done === "late") abort.abort();
      },
    };
  },
};
