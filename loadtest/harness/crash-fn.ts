/**
 * The bench's crash probe (copied into the bench workspace, never served by `lanes start` on
 * its own). `?mode=exit`: an uncaught error ends the instance while a request is in flight.
 * `?mode=abort`: SIGABRT to the process the function runs in, which is what a crashing native
 * addon or a process-wide OOM amounts to (process.abort() itself is refused inside a Node
 * worker, ERR_WORKER_UNSUPPORTED_OPERATION). Otherwise: 200.
 */
declare const process: { pid: number; kill(pid: number, signal: string): void };

export default {
  fetch(request: Request): Response | Promise<Response> {
    const mode = new URL(request.url).searchParams.get("mode");
    if (mode === "exit") {
      setTimeout(() => {
        throw new Error("lanes bench: crashing this instance on purpose");
      }, 0);
      return new Promise<Response>(() => {});
    }
    if (mode === "abort") process.kill(process.pid, "SIGABRT");
    return new Response("alive\n");
  },
};
