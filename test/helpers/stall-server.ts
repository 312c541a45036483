/**
 * A real HTTP server on 127.0.0.1 that `lanes load` tests aim at. It answers after `serviceMs`,
 * and can stall on purpose: every request arriving in a window waits until the window ends, as a
 * server in a long GC pause or behind a lock would. `?ms=N` answers after N ms instead. `/mixed`
 * and `/reset` fail on purpose, after a first good answer to each path and query (the probe
 * before a run). `/flaky` closes every connection at its second request, having answered the
 * first. `/basic` answers 401 without Basic auth of user:pw. `/bytes?kb=N` answers N KiB of binary at once.
 */
import * as http from "node:http";

export interface StallServer {
  url: string;
  /**
   * Stall from `afterMs` after the next request for `forMs`. `lanes load` probes before its run,
   * so that request is the probe, and how long after it the run starts depends on the machine.
   */
  stallAfterNextRequest(afterMs: number, forMs: number): void;
  /** When the last stall began (or begins), as `Date.now()` time; NaN before any. */
  stallStartedAt(): number;
  /** TCP connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export async function startStallServer(serviceMs: number): Promise<StallServer> {
  let stall: { afterMs: number; forMs: number } | undefined;
  let window = { from: Infinity, to: -Infinity };
  const seen = new Map<string, number>();
  const perSocket = new WeakMap<object, number>();
  let connections = 0;
  const server = http.createServer((req, res) => {
    const now = performance.now();
    if (stall) {
      window = { from: now + stall.afterMs, to: now + stall.afterMs + stall.forMs };
      stall = undefined;
    }
    const url = new URL(req.url ?? "/", "http://x");
    const answer = (status: number) => {
      const wait = now >= window.from && now < window.to ? window.to - now : 0;
      const ms = Number(url.searchParams.get("ms") ?? serviceMs);
      setTimeout(() => res.writeHead(status, { "content-type": "text/plain" }).end("answered"), wait + ms);
    };
    // large binary answers, every byte value: what costs a generator most to take in
    if (url.pathname === "/bytes") return void res.writeHead(200, { "content-type": "application/octet-stream" }).end(binary(Number(url.searchParams.get("kb") ?? 1024)));
    // Basic auth of user:pw, as a URL's user and password are sent
    if (url.pathname === "/basic") return answer(req.headers.authorization === "Basic dXNlcjpwdw==" ? 200 : 401);
    if (url.pathname === "/flaky") {
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      if (n > 1) return void req.socket.destroy();
      return answer(200);
    }
    // counted per path and query: each run can aim at its own `/reset?run=N`
    const i = (seen.get(req.url!) ?? 0) + 1;
    seen.set(req.url!, i);
    // the first request (the probe) gets a 200; after it, every request is reset
    if (url.pathname === "/reset" && i > 1) return void req.socket.destroy();
    if (url.pathname !== "/mixed" || i === 1) return answer(200);
    // in every ten: one never answered (the client times out), one 503
    if (i % 10 === 5) return;
    answer(i % 10 === 7 ? 503 : 200);
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    stallAfterNextRequest: (afterMs, forMs) => void (stall = { afterMs, forMs }),
    stallStartedAt: () => (Number.isFinite(window.from) ? performance.timeOrigin + window.from : Number.NaN),
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const binaries = new Map<number, Uint8Array>();
function binary(kb: number): Uint8Array {
  let b = binaries.get(kb);
  if (!b) binaries.set(kb, (b = Uint8Array.from({ length: kb * 1024 }, (_, i) => (i * 31 + 7) & 0xff)));
  return b;
}
