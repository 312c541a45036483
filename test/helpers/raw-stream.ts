/**
 * A raw HTTP/1.1 request whose answer is watched as it arrives: when the head is complete, what
 * the body holds so far, and the connection can be dropped at any moment (a client going away).
 */
import type { Buffer } from "node:buffer";
import { connect } from "node:net";

export interface OpenRequest {
  /** Resolves with the response head once it is complete (status line and headers). */
  head: Promise<string>;
  /** Everything received so far, as latin1. */
  received(): string;
  /** Resolves once the connection is closed. */
  closed: Promise<void>;
  /** Drop the connection, as a client that goes away. */
  drop(): void;
}

export function openRequest(base: string, target: string): OpenRequest {
  const url = new URL(base);
  const sock = connect(Number(url.port), url.hostname);
  let data = "";
  let gotHead: (head: string) => void = () => {};
  const head = new Promise<string>((r) => (gotHead = r));
  const closed = new Promise<void>((r) => sock.on("close", () => r()));
  sock.on("error", () => {});
  sock.on("data", (d: Buffer) => {
    data += d.toString("latin1");
    const end = data.indexOf("\r\n\r\n");
    if (end >= 0) gotHead(data.slice(0, end));
  });
  sock.write(`GET ${target} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
  return { head, received: () => data, closed, drop: () => void sock.destroy() };
}

/** `p`, or a rejection naming `what` after `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
