/**
 * A hand-written HTTP/1.1 client for what fetch() hides: a chunked upload that keeps sending
 * until the server answers, counting how many bytes went out before the answer came; one that
 * keeps sending after it, to see when the server closes.
 */
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";

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

export interface RawAnswer {
  status: number;
  /** Header lines as sent, names lower-cased. */
  headers: [string, string][];
  body: string;
}

/**
 * Send `requests` (["GET /path", "HEAD /other"]) pipelined on one connection, the last with
 * Connection: close, and read the answers in turn as a client on a reused connection must:
 * each body delimited by its own Content-Length or chunked framing (none after HEAD, 204, 304).
 * Rejects, with what arrived, when the bytes are not that many answers in a row.
 */
export function pipelined(baseUrl: string, requests: string[], giveUpMs = 5000): Promise<RawAnswer[]> {
  const url = new URL(baseUrl);
  const text = requests.map((r, i) => `${r} HTTP/1.1\r\nHost: ${url.host}\r\n${i === requests.length - 1 ? "Connection: close\r\n" : ""}\r\n`).join("");
  return new Promise((resolve, reject) => {
    const sock = connect(Number(url.port), url.hostname);
    let got = "";
    sock.on("data", (d: Buffer) => (got += d.toString("latin1")));
    const giveUp = setTimeout(() => sock.destroy(), giveUpMs);
    sock.on("error", () => {}); // 'close' follows: what arrived is read then
    sock.on("close", () => {
      clearTimeout(giveUp);
      try {
        resolve(readAnswers(got, requests));
      } catch (e) {
        reject(new Error(`${(e as Error).message}; the connection carried ${JSON.stringify(got.slice(0, 2000))}`));
      }
    });
    sock.write(text);
  });
}

/**
 * One request to the server at `baseUrl` with `Host: host` (as a browser sends it for a name that
 * resolves to that server, e.g. admin.localhost): fetch() does not let a Host header through.
 */
export function withHost(baseUrl: string, host: string, request: string, headers: Record<string, string> = {}, body = ""): Promise<RawAnswer> {
  const url = new URL(baseUrl);
  const lines = Object.entries({ host, ...headers, ...(body ? { "content-length": String(Buffer.byteLength(body)) } : {}), connection: "close" });
  const text = `${request} HTTP/1.1\r\n${lines.map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n${body}`;
  return new Promise((resolve, reject) => {
    const sock = connect(Number(url.port), url.hostname);
    let got = "";
    sock.on("data", (d: Buffer) => (got += d.toString("latin1")));
    const giveUp = setTimeout(() => sock.destroy(), 10_000);
    sock.on("error", () => {}); // 'close' follows: what arrived is read then
    sock.on("close", () => {
      clearTimeout(giveUp);
      try {
        resolve(readAnswers(got, [request])[0]!);
      } catch (e) {
        reject(new Error(`${(e as Error).message}; the connection carried ${JSON.stringify(got.slice(0, 2000))}`));
      }
    });
    sock.write(text);
  });
}

function readAnswers(raw: string, requests: string[]): RawAnswer[] {
  const out: RawAnswer[] = [];
  let at = 0;
  for (const request of requests) {
    const end = raw.indexOf("\r\n\r\n", at);
    if (end < 0) throw new Error(`no answer to ${request} (answer ${out.length + 1})`);
    const [statusLine = "", ...lines] = raw.slice(at, end).split("\r\n");
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1]);
    if (!status) throw new Error(`${JSON.stringify(statusLine)} is not a status line (answer ${out.length + 1}, to ${request})`);
    const headers = lines.map((l): [string, string] => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]);
    const get = (name: string) => headers.find(([k]) => k === name)?.[1];
    at = end + 4;
    let body = "";
    if (request.startsWith("HEAD ") || status === 204 || status === 304) body = "";
    else if (get("transfer-encoding")?.toLowerCase() === "chunked") {
      for (;;) {
        const eol = raw.indexOf("\r\n", at);
        const size = eol < 0 ? Number.NaN : Number.parseInt(raw.slice(at, eol), 16);
        if (Number.isNaN(size) || raw.length < eol + 2 + size + 2) throw new Error(`a chunked body cut short (answer to ${request})`);
        at = eol + 2 + size + 2;
        if (size === 0) break;
        body += raw.slice(eol + 2, eol + 2 + size);
      }
    } else {
      const n = Number(get("content-length") ?? Number.NaN);
      if (Number.isNaN(n)) throw new Error(`an answer to ${request} on a kept connection says neither its length nor chunked`);
      if (raw.length < at + n) throw new Error(`the answer to ${request} says ${n} bytes, ${raw.length - at} came`);
      body = raw.slice(at, at + n);
      at += n;
    }
    out.push({ status, headers, body });
  }
  if (at !== raw.length) throw new Error(`${raw.length - at} bytes after the last answer`);
  return out;
}

/**
 * Send `text` as it is on a new connection; everything the server answered until it closed it
 * (5 s at most; "" if it reset the connection before answering).
 */
export function rawRequest(baseUrl: string, text: string): Promise<string> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const sock = connect(Number(url.port), url.hostname);
    let got = "";
    sock.on("data", (d) => (got += d.toString("latin1")));
    sock.on("error", () => {}); // 'close' follows
    const giveUp = setTimeout(() => sock.destroy(), 5000);
    sock.on("close", () => {
      clearTimeout(giveUp);
      resolve(got);
    });
    sock.write(text);
  });
}

/**
 * A connection opened now for requests sent later, one at a time: for a request that must not
 * wait on a new connection. Under a flood of connections the listen backlog overflows, and a
 * client whose SYN was dropped sends it again only 1, 3, 7... s later (../../adapters/README.md,
 * "Serving HTTP", Listen backlog); a host closes an idle connection after its keep-alive time,
 * so until the next request one is sent to `keepAlive` every second.
 */
export class KeptConnection {
  private got = "";
  private arrived: (() => void) | undefined;
  private closed = false;
  /** The request in progress (a request waits for the one before it). */
  private last: Promise<unknown> = Promise.resolve();
  private busy = 0;
  private pinging: ReturnType<typeof setInterval>;

  private constructor(
    private readonly sock: Socket,
    private readonly host: string,
    keepAlive: string,
  ) {
    sock.on("data", (d: Buffer) => {
      this.got += d.toString("latin1");
      this.arrived?.();
    });
    sock.on("error", () => {}); // 'close' follows
    sock.on("close", () => {
      this.closed = true;
      this.arrived?.();
    });
    this.pinging = setInterval(() => this.busy === 0 && void this.request(keepAlive).catch(() => {}), 1000);
  }

  /** A connection to `baseUrl`, kept open by a request to `keepAlive` ("GET /path") every second. */
  static open(baseUrl: string, keepAlive: string): Promise<KeptConnection> {
    const url = new URL(baseUrl);
    return new Promise((resolve, reject) => {
      const sock = connect(Number(url.port), url.hostname);
      sock.once("error", reject);
      sock.once("connect", () => resolve(new KeptConnection(sock, url.host, keepAlive)));
    });
  }

  /** `request` ("GET /path") on this connection, after the one in progress; its answer. */
  request(request: string): Promise<RawAnswer> {
    this.busy++;
    const answer = this.last.then(() => this.send(request));
    const done = () => void this.busy--;
    this.last = answer.then(done, done);
    return answer;
  }

  private send(request: string): Promise<RawAnswer> {
    return new Promise((resolve, reject) => {
      this.got = "";
      this.arrived = () => {
        try {
          const [answer] = readAnswers(this.got, [request]);
          this.arrived = undefined;
          resolve(answer!);
        } catch (e) {
          if (!this.closed) return; // not all of it yet
          this.arrived = undefined;
          reject(new Error(`the connection closed: ${(e as Error).message}; it carried ${JSON.stringify(this.got.slice(0, 2000))}`));
        }
      };
      if (this.closed) return this.arrived();
      this.sock.write(`${request} HTTP/1.1\r\nHost: ${this.host}\r\n\r\n`);
    });
  }

  close(): void {
    clearInterval(this.pinging);
    this.sock.destroy();
  }
}
