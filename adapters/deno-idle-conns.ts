/**
 * Deno host only: connections that hold the server without a request are closed, as Node's and
 * Bun's servers close them themselves. Deno.serve has no header, read or keep-alive timeout
 * (https://github.com/denoland/deno/issues/3515): a client that connects and sends nothing, sends
 * a request head a line at a time and never ends it, or keeps an idle keep-alive connection,
 * held a socket and a file descriptor of the host until it left (README.md in this folder, Serving
 * HTTP), so enough of them would stop the host from accepting or spawning anything.
 *
 * Deno.serve gives lanes nothing before a request head is complete, so the host counts its
 * requests in flight by the client's port (`info.remoteAddr`, `info.completed`), and about once
 * a second lists the server's connections among its own sockets (`/proc/self/fd`, and for each
 * socket `getsockname` and `getpeername` through FFI). It read the kernel's whole TCP table
 * (`/proc/net/tcp`) before: with 28,000 sockets of other processes in TIME_WAIT on the machine
 * (a load test's) a read took 40-90 ms and its parse 25-40 more, scans backed off to one every
 * few seconds (SCAN_SHARE), and connections outlived their limits by 10 s and more. A
 * connection with no request in flight is shut down (`shutdown(2)` through FFI: Deno.serve then
 * sees its end and closes it, so no descriptor is closed under it) once it has gone
 * `headerTimeoutMs` without a request since it was first seen, or `keepAliveMs` since its last
 * answer was sent (ConnectionLimits, adapters/types.ts).
 *
 * Counted by port alone, two clients of different addresses on the same port share a count: a
 * request of either keeps both open, so a connection with a request in flight is never shut
 * down; an idle one is at worst kept longer. A port's clock belongs to the connection the table
 * last showed on it (its inode): once the host has closed an idle connection, the client may
 * connect again from the same port before the next scan, and that new connection starts its
 * own clock rather than inherit the old one's, which had run out. Without Linux's /proc or FFI
 * permission, nothing is watched, as before.
 */
import { libc } from "./libc.ts";
import type { ConnectionLimits } from "./types.ts";

/** At most: a shorter limit is checked twice as often as it is long. */
const SCAN_MS = 1000;
/** A scan waits at least this many times as long as the last one took: the watch never takes more than 2% of the thread. */
const SCAN_SHARE = 50;
const SHUT_RDWR = 2;
const AF_INET = 2;
const AF_INET6 = 10;

interface DenoFs {
  readTextFileSync(path: string): string;
  readDirSync(path: string): Iterable<{ name: string }>;
  readLinkSync(path: string): string;
}
interface RequestInfo {
  remoteAddr: { port?: number };
  completed?: Promise<void>;
}

export interface IdleConnections {
  /** A request of a connection has begun (its head is complete): call from the handler. */
  request(info: RequestInfo): void;
  /** Shut the request's connection down once its answer is sent (found by the client's port, as the watch counts). */
  closeAfter(info: RequestInfo): void;
  stop(): void;
}

const none: IdleConnections = { request() {}, closeAfter() {}, stop() {} };

/** Watches the connections of the server listening on `hostname`:`port`; `none` where it cannot. */
export function watchIdleConnections(hostname: string, port: number, limits: ConnectionLimits): IdleConnections {
  const deno = (globalThis as { Deno?: DenoFs }).Deno;
  const c = libc();
  if (!deno || !c?.shutdown || !c.getsockname || !c.getpeername) return none;
  const shutdown = c.shutdown;
  const own = new OwnSockets(deno, c, port, localAddress(hostname));
  if (own.list() === undefined) return none;
  // by the client's port: requests in flight, and when one last ended or the connection was first seen
  const inFlight = new Uint16Array(65536);
  const idleSince = new Float64Array(65536);
  // the connection (socket inode) the table last showed on each port
  const connectionOn = new Map<number, string>();
  let lastScan = 0;
  // a port whose connection has been answered at least once: it waits keepAliveMs, not headerTimeoutMs
  const answered = new Set<number>();
  const limitFor = (p: number) => (answered.has(p) ? limits.keepAliveMs : limits.headerTimeoutMs);

  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const scan = () => {
    const connections = own.list();
    if (connections === undefined) return;
    const now = Date.now();
    const seen = new Set<number>();
    const idle: number[] = [];
    for (const { remotePort: p, inode, fd } of connections) {
      seen.add(p);
      if (connectionOn.get(p) !== inode) {
        // first seen: its clock starts now, and an answer is its own only if it came since the last scan
        connectionOn.set(p, inode);
        if (idleSince[p]! < lastScan) answered.delete(p);
        idleSince[p] = now;
      }
      if (inFlight[p] === 0 && now - idleSince[p]! > limitFor(p)) idle.push(fd);
    }
    // a connection gone from the table (its last request ended): its port may come back as a new one
    for (const p of connectionOn.keys()) {
      if (seen.has(p) || inFlight[p] !== 0) continue;
      connectionOn.delete(p);
      answered.delete(p);
    }
    lastScan = now;
    for (const fd of idle) shutdown(fd, SHUT_RDWR);
  };
  const next = (wait: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      const began = performance.now();
      scan();
      next(Math.max(every, (performance.now() - began) * SCAN_SHARE));
    }, wait);
    (timer as { unref?: () => void }).unref?.();
  };
  const every = Math.min(SCAN_MS, limits.headerTimeoutMs / 2, limits.keepAliveMs / 2);
  next(every);

  return {
    request(info) {
      const p = info.remoteAddr.port;
      const done = info.completed;
      if (p === undefined || done === undefined) return;
      inFlight[p]!++;
      const end = () => {
        inFlight[p]!--;
        idleSince[p] = Date.now();
        answered.add(p);
      };
      done.then(end, end);
    },
    closeAfter(info) {
      const p = info.remoteAddr.port;
      const done = info.completed;
      if (p === undefined || done === undefined) return;
      // rare (a 205): one listing of the host's sockets, once the answer is out. `completed`
      // comes before Deno.serve writes an answer without a body: it writes it in the event
      // loop's next turn (measured, Deno 2.9.6), a timer's later
      const close = () => {
        for (const s of own.list() ?? []) if (s.remotePort === p) shutdown(s.fd, SHUT_RDWR);
      };
      const later = () => setTimeout(close, 0);
      done.then(later, later);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/**
 * The server's connections among this process's sockets: each `/proc/self/fd/N` that is a
 * `socket:[INODE]`, whose own address (`getsockname`) is the server's port (and address, when it
 * listens on one) and which has a peer (`getpeername`: the listener has none). A connection the
 * host made itself from another address may have the server's port as its own, and must not be
 * taken for a client's. The work grows with the host's own sockets, not the machine's.
 */
export class OwnSockets {
  private readonly addr = new Uint8Array(128);
  private readonly len = new Uint32Array(1);

  constructor(
    private readonly deno: DenoFs,
    private readonly c: { getsockname: SockName; getpeername: SockName },
    private readonly port: number,
    private readonly address: Uint8Array | undefined,
  ) {}

  /** undefined where /proc/self/fd cannot be read. */
  list(): { remotePort: number; inode: string; fd: number }[] | undefined {
    const out: { remotePort: number; inode: string; fd: number }[] = [];
    let names: Iterable<{ name: string }>;
    try {
      names = this.deno.readDirSync("/proc/self/fd");
    } catch {
      return undefined;
    }
    for (const { name } of names) {
      let target: string;
      try {
        target = this.deno.readLinkSync(`/proc/self/fd/${name}`);
      } catch {
        continue; // closed meanwhile (the one readDirSync used, for one)
      }
      if (!target.startsWith("socket:[")) continue;
      const fd = Number(name);
      const local = this.endpoint(this.c.getsockname, fd);
      if (!local || local.port !== this.port || (this.address && !sameAddress(local.address, this.address))) continue;
      const remote = this.endpoint(this.c.getpeername, fd);
      if (remote) out.push({ remotePort: remote.port, inode: target.slice(8, -1), fd });
    }
    return out;
  }

  /** An IPv4 or IPv6 socket's address and port, or undefined (another family, or no peer). */
  private endpoint(call: SockName, fd: number): { port: number; address: Uint8Array } | undefined {
    this.len[0] = this.addr.byteLength;
    if (call(fd, this.addr, this.len) !== 0) return undefined;
    const family = this.addr[0]! | (this.addr[1]! << 8);
    const port = (this.addr[2]! << 8) | this.addr[3]!;
    if (family === AF_INET) return { port, address: this.addr.slice(4, 8) };
    if (family === AF_INET6) {
      const a = this.addr.slice(8, 24);
      // an IPv4 client of a dual-stack socket: ::ffff:a.b.c.d
      const mapped = a.slice(0, 10).every((b) => b === 0) && a[10] === 0xff && a[11] === 0xff;
      return { port, address: mapped ? a.slice(12) : a };
    }
    return undefined;
  }
}
type SockName = (fd: number, addr: Uint8Array, len: Uint32Array) => number;

function sameAddress(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}

/**
 * A server on one IPv4 address: its bytes. A server on every address (`0.0.0.0`, `::`) keeps its
 * port from being any other socket's, and a name is not compared: undefined, no check.
 */
export function localAddress(hostname: string): Uint8Array | undefined {
  const parts = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(hostname)?.slice(1).map(Number);
  if (!parts || hostname === "0.0.0.0" || parts.some((b) => b > 255)) return undefined;
  return new Uint8Array(parts);
}
