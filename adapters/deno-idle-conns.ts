/**
 * Deno host only: connections that hold the server without a request are closed, as Node's and
 * Bun's servers close them themselves. Deno.serve has no header, read or keep-alive timeout
 * (https://github.com/denoland/deno/issues/3515): a client that connects and sends nothing, sends
 * a request head a line at a time and never ends it, or keeps an idle keep-alive connection,
 * held a socket and a file descriptor of the host until it left (adapters/README.md, Serving
 * HTTP), so enough of them would stop the host from accepting or spawning anything.
 *
 * Deno.serve gives lanes nothing before a request head is complete, so the host counts its
 * requests in flight by the client's port (`info.remoteAddr`, `info.completed`), and about once
 * a second reads the kernel's table of the server's TCP connections (`/proc/net/tcp`, `tcp6`). A
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
/**
 * A scan waits at least this many times as long as the last one took: reading the tables costs
 * the kernel about 6 µs a socket (12-15 ms with 2,000 connections open, and as many client
 * sockets beside them on loopback), so the watch never takes more than 2% of the thread.
 */
const SCAN_SHARE = 50;
const SHUT_RDWR = 2;
const ESTABLISHED = "01";

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
  stop(): void;
}

const none: IdleConnections = { request() {}, stop() {} };

/** Watches the connections of the server listening on `hostname`:`port`; `none` where it cannot. */
export function watchIdleConnections(hostname: string, port: number, limits: ConnectionLimits): IdleConnections {
  const deno = (globalThis as { Deno?: DenoFs }).Deno;
  const c = libc();
  if (!deno || !c?.shutdown || readTables(deno) === undefined) return none;
  const shutdown = c.shutdown;
  // by the client's port: requests in flight, and when one last ended or the connection was first seen
  const inFlight = new Uint16Array(65536);
  const idleSince = new Float64Array(65536);
  // the connection (socket inode) the table last showed on each port
  const connectionOn = new Map<number, string>();
  let lastScan = 0;
  // a port whose connection has been answered at least once: it waits keepAliveMs, not headerTimeoutMs
  const answered = new Set<number>();
  const limitFor = (p: number) => (answered.has(p) ? limits.keepAliveMs : limits.headerTimeoutMs);
  const addresses = localAddresses(hostname);

  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const scan = () => {
    const text = readTables(deno);
    if (text === undefined) return;
    const now = Date.now();
    const seen = new Set<number>();
    const idle = new Set<string>();
    for (const { remotePort: p, inode } of established(text, port, addresses)) {
      seen.add(p);
      if (connectionOn.get(p) !== inode) {
        // first seen: its clock starts now, and an answer is its own only if it came since the last scan
        connectionOn.set(p, inode);
        if (idleSince[p]! < lastScan) answered.delete(p);
        idleSince[p] = now;
      }
      if (inFlight[p] === 0 && now - idleSince[p]! > limitFor(p)) idle.add(inode);
    }
    // a connection gone from the table (its last request ended): its port may come back as a new one
    for (const p of connectionOn.keys()) {
      if (seen.has(p) || inFlight[p] !== 0) continue;
      connectionOn.delete(p);
      answered.delete(p);
    }
    lastScan = now;
    if (idle.size > 0) for (const fd of socketFds(deno, idle)) shutdown(fd, SHUT_RDWR);
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
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** The kernel's IPv4 and IPv6 TCP tables, or undefined without them (not Linux, or no read permission). */
function readTables(deno: DenoFs): string | undefined {
  let text = "";
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    try {
      text += deno.readTextFileSync(file);
    } catch {
      if (file.endsWith("tcp")) return undefined; // tcp6 is missing where IPv6 is off
    }
  }
  return text;
}

/**
 * The established connections to local `port` (and one of `addresses`, when given). Each row is
 * `sl: local remote st queues timers retransmits uid timeout inode ...`, addresses as hex
 * `ADDR:PORT` (the port in big-endian hex). Only the rows that name the port are read, one
 * regular expression each: splitting every row took longer than reading the tables.
 */
export function* established(table: string, port: number, addresses?: string[]): Generator<{ remotePort: number; inode: string }> {
  const local = `:${port.toString(16).toUpperCase().padStart(4, "0")} `;
  for (let at = table.indexOf(local); at >= 0; at = table.indexOf(local, at + local.length)) {
    const token = table.lastIndexOf(" ", at);
    if (table.charCodeAt(token - 1) !== COLON) continue; // the remote address (`sl:` precedes only the local one): skipped early
    if (addresses && !addresses.includes(table.slice(token + 1, at))) continue;
    ROW.lastIndex = at + local.length;
    const m = ROW.exec(table);
    if (m && m.index === at + local.length && m[2] === ESTABLISHED && m[3] !== "0") yield { remotePort: Number.parseInt(m[1]!, 16), inode: m[3]! };
  }
}

/**
 * A server on one IPv4 address: its address as the table prints it (the 32-bit word in the
 * machine's byte order: either order is taken). A connection the host made itself from another
 * address may have the server's port as its own, and must not be taken for a client's. A server
 * on every address (`0.0.0.0`, `::`) keeps its port from being any other socket's, so no check.
 */
export function localAddresses(hostname: string): string[] | undefined {
  const parts = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(hostname)?.slice(1).map(Number);
  if (!parts || hostname === "0.0.0.0" || parts.some((b) => b > 255)) return undefined;
  const hex = (bytes: number[]) => bytes.map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join("");
  return [hex([...parts].reverse()), hex(parts)];
}
const COLON = ":".charCodeAt(0);
/** After the local address: the remote one's port, the state, and (past queues, timers, retransmits, uid and timeout) the inode. */
const ROW = /[0-9A-F]+:([0-9A-F]{4}) ([0-9A-F]{2}) \S+ \S+ \S+ +\d+ +\d+ (\d+)/y;

/** This process's descriptors of the sockets with these inodes (`/proc/self/fd/N` -> `socket:[INODE]`). */
function socketFds(deno: DenoFs, inodes: Set<string>): number[] {
  const fds: number[] = [];
  try {
    for (const { name } of deno.readDirSync("/proc/self/fd")) {
      let target: string;
      try {
        target = deno.readLinkSync(`/proc/self/fd/${name}`);
      } catch {
        continue; // closed meanwhile
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1]!)) fds.push(Number(name));
    }
  } catch {
    // no /proc/self/fd: nothing to shut down
  }
  return fds;
}
