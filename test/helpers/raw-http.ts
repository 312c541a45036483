/**
 * A hand-written HTTP/1.1 client for what fetch() hides: a chunked upload that keeps sending
 * until the server answers, counting how many bytes went out before the answer came; one that
 * keeps sending after it, to see when the server closes.
 */
import { Buffer } from "node:buffer";
import { connect } from "node:net";

export interface UploadResult {
  status: number;
  /** Body bytes written to the socket before the response head arrived. */
  sent: number;
  /** The raw response (head and whatever body came with it). */
  response: string;
}

/** POST `total` bytes with Transfer-Encoding: chunked (no Content-Length), stopping once answered. */
export function chunkedUpload(baseUrl: string, path: string, total: number, chunkSize = 64 * 1024): Promise<UploadResult> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(url.port), url.hostname);
    let response = "";
    let sent = 0;
    let answered: (() => void) | undefined;
    const answer = new Promise<void>((r) => (answered = r));
    const finish = () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
      sock.destroy();
      resolve({ status, sent, response });
    };
    sock.on("data", (d: Buffer) => {
      response += d.toString("latin1");
      if (response.includes("\r\n\r\n")) answered?.();
    });
    sock.on("error", (e) => (response ? finish() : reject(e)));
    sock.on("close", () => (response ? finish() : reject(new Error(`connection closed after ${sent} bytes, no response`))));
    void answer.then(() => setTimeout(finish, 50)); // let a short body follow the head
    sock.on("connect", async () => {
      sock.write(`POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`);
      const chunk = Buffer.alloc(chunkSize, 0x61);
      let done = false;
      void answer.then(() => (done = true));
      while (!done && sent < total) {
        const size = Math.min(chunkSize, total - sent);
        const ok = sock.write(`${size.toString(16)}\r\n`) && sock.write(size === chunkSize ? chunk : chunk.subarray(0, size)) && sock.write("\r\n");
        sent += size;
        if (!ok) await Promise.race([new Promise((r) => sock.once("drain", r)), answer]);
      }
      if (!done && !sock.destroyed) sock.write("0\r\n\r\n");
    });
  });
}

export interface DripResult {
  /** The raw response. */
  response: string;
  /** When the response began, in ms after the request. */
  answeredMs: number;
  /** When the server closed the connection, in ms after the response began (NaN: it never did). */
  closedMs: number;
}

/**
 * POST a body of `declared` bytes (a Content-Length, or with `chunked` one chunk that says so):
 * `first` of them at once, then a byte every `everyMs`, whatever the server answers, until it
 * closes the connection or `giveUpMs` passes. What a client does to a server that keeps reading
 * after it answered.
 */
export function dripAfterAnswer(
  baseUrl: string,
  path: string,
  { declared, first, everyMs, giveUpMs, chunked = true }: { declared: number; first: number; everyMs: number; giveUpMs: number; chunked?: boolean },
): Promise<DripResult> {
  const url = new URL(baseUrl);
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const sock = connect(Number(url.port), url.hostname);
    let response = "";
    let answeredAt = Number.NaN;
    let closedAt = Number.NaN;
    const drip = setInterval(() => sock.write("a"), everyMs);
    const giveUp = setTimeout(() => sock.destroy(), giveUpMs);
    sock.on("data", (d: Buffer) => {
      if (!response) answeredAt = Date.now();
      response += d.toString("latin1");
    });
    // the server's FIN (or reset): the client would only notice on its next write otherwise
    sock.on("end", () => (closedAt = Date.now()));
    sock.on("error", (e) => {
      if (!response) reject(e);
      else if (Number.isNaN(closedAt)) closedAt = Date.now();
    });
    sock.on("close", () => {
      clearInterval(drip);
      clearTimeout(giveUp);
      resolve({ response, answeredMs: answeredAt - t0, closedMs: closedAt - answeredAt });
    });
    const framing = chunked ? `Transfer-Encoding: chunked\r\n\r\n${declared.toString(16)}\r\n` : `Content-Length: ${declared}\r\n\r\n`;
    sock.write(`POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\n${framing}`);
    sock.write(Buffer.alloc(first, 0x62));
  });
}
