/**
 * Serving over node:http, for the Node host and the Bun host. Requests for functions are relayed
 * without web objects (node-exchange.ts); lanes' own Hono routes are served through
 * @hono/node-server's listener (https://github.com/honojs/node-server). Bun serves with its
 * node:http, not Bun.serve: Bun.serve holds a streamed response's head until the body's first
 * chunk and never sends a status text (README.md in this folder, Serving HTTP).
 */
import { getRequestListener, RequestError } from "@hono/node-server";
import { Buffer } from "node:buffer";
import { createServer, type IncomingMessage, type Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { LanesError, errorReply, errorResponse } from "../runtime/errors.ts";
import { SERVED_METHODS, unservedMethod } from "../runtime/host/methods.ts";
import { unsendable } from "../runtime/pool/framing.ts";
import { NodeExchange, notAPath, writeReply } from "./node-exchange.ts";
import { DEFAULT_CONNECTION_LIMITS, type HttpHandler, type RefusedRequest, type Reply, type RunningServer, type ServeOptions } from "./types.ts";
import { LINGER_MS } from "./unread-body.ts";

const EXCHANGE = Symbol("lanes.exchange");
/** Linux caps it at net.core.somaxconn (4096 since 5.4). */
const LISTEN_BACKLOG = 4096;
/**
 * Connections are checked for their head's deadline every CHECK_MS at most: with Node's
 * defaults (a head within 60 s, checked every 30 s) a client that sends nothing, or a head a
 * line at a time, held a connection for up to 90 s (README.md in this folder, Serving HTTP).
 * https://nodejs.org/api/http.html#serverheaderstimeout
 */
const CHECK_MS = 1000;
type WithExchange = IncomingMessage & { [EXCHANGE]?: NodeExchange };

export function serveNodeHttp(handler: HttpHandler, { port, hostname, defaultWebGlobals, connections = DEFAULT_CONNECTION_LIMITS, refused }: ServeOptions): Promise<RunningServer> {
  // no look-alike Request/Response in the host's globals, unless asked for (the direct baseline)
  const web = getRequestListener((request, env) => handler.web(request, (env.incoming as WithExchange)[EXCHANGE]!), {
    overrideGlobalObjects: defaultWebGlobals === true,
    // a target it will not make a Request of (a backslash in the path of /_lanes/...): its own
    // answer was an empty 400, without the JSON error and the x-request-id every answer has
    errorHandler: (e) => errorResponse(e instanceof RequestError ? new LanesError("bad_request", `the request target cannot be read: ${e.message}`) : e, crypto.randomUUID()),
  });
  const limits = {
    headersTimeout: connections.headerTimeoutMs,
    keepAliveTimeout: connections.keepAliveMs,
    connectionsCheckingInterval: Math.min(CHECK_MS, connections.headerTimeoutMs / 2),
  };
  // while it drains, every answer says Connection: close and its connection ends after it: a
  // client that reused the connection would send its next request into one being closed
  let draining = false;
  const respond = (req: WithExchange, res: ServerResponse) => {
    const ex = new NodeExchange(req, res, `${hostname}:${port}`);
    if (draining) res.shouldKeepAlive = false;
    let out: Reply | Promise<Reply> | undefined;
    try {
      out = handler.fast(ex);
    } catch (e) {
      out = errorReply(e instanceof LanesError ? e : new LanesError("internal", "internal error", { cause: e }), "");
    }
    if (out === undefined) {
      req[EXCHANGE] = ex;
      return void web(req, res);
    }
    if (out instanceof Promise)
      out.then(
        (r) => {
          if (draining) res.shouldKeepAlive = false; // an answer that began before the drain
          send(ex, res, r);
        },
        (e) => send(ex, res, errorReply(e, "")),
      );
    else send(ex, res, out);
    // A body the answer did not need (a request refused before it was read) is read and
    // dropped as it arrives, as Node does by itself (Bun's node:http keeps it in memory:
    // README.md in this folder, Serving HTTP), but only for a while (unread-body.ts). A request
    // without one needs no listener.
    if (ex.hasBody()) res.once("finish", () => req.readableEnded || linger(req));
  };
  const server = createServer(limits, respond);
  server.on("clientError", (e: Error & { code?: string; rawPacket?: Uint8Array }, socket: Duplex) => answerClientError(e, socket, refused));
  // Node keeps the first 1000 or so header lines of a request and drops the rest without a word
  // (its default maxHeadersCount): the function saw a request without its last headers. No count:
  // the head's size bounds them (maxHeaderSize, 16 KiB: a 431 past it, as Bun answers)
  server.maxHeadersCount = 0;
  // A CONNECT is handed to "connect" listeners only, and with none Node's server (and Bun's
  // node:http) destroys the socket without a word. lanes relays no CONNECT (routes.ts): it gets
  // the answer any request would (405 with Allow, 404, or 400 for a host:port target) and the
  // connection is closed after it, as the parser has let go of the socket. No "upgrade" listener:
  // without one, both serve a request with an Upgrade header as a plain request.
  server.on("connect", (req: IncomingMessage, socket: Duplex) => {
    socket.on("error", () => {}); // the server no longer listens: a reset must not end the host
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    // closed once written, whatever the client does with its half (the server's sockets allow half-open)
    res.once("finish", () => socket.end(() => socket.destroy()));
    respond(req, res);
  });
  return new Promise<RunningServer>((resolve, reject) => {
    server.once("error", reject);
    // a flood of new connections waits in the kernel until accepted, rather than having its SYNs
    // dropped (a client then waits 1 s, then 3 s, to try again): Node's default backlog is 511
    // (README.md in this folder, Serving HTTP)
    server.listen({ port, host: hostname, backlog: LISTEN_BACKLOG }, () => {
      server.off("error", reject);
      const addr = server.address();
      resolve({
        port: typeof addr === "object" && addr ? addr.port : port,
        hostname,
        shutdown: (graceMs) => {
          draining = true;
          return closeGracefully(server, graceMs);
        },
      });
    });
  });
}

function send(ex: NodeExchange, res: ServerResponse, reply: Reply): void {
  if (res.headersSent || res.destroyed) return;
  try {
    writeReply(ex, res, reply);
  } catch (e) {
    // a header Node refuses: one with a control character Fetch's Headers takes is refused where
    // the lane's answer arrives (runtime/pool/framing.ts), so that the log counts the 500; this is
    // the last guard, for anything else Node's writeHead throws on
    const id = reply.headers.find(([name]) => name === "x-request-id")?.[1] ?? "";
    void reply.stream?.cancel().catch(() => {});
    // writeHead set the answer's reason phrase ("OK") before it threw: the 500 gets its own
    res.statusMessage = "";
    const refused = unsendable(reply.headers) ?? errorReply(new LanesError("internal", `the response could not be written: ${(e as Error).message}`), id);
    if (!res.headersSent) writeReply(ex, res, refused);
  }
}

/** Node's own answers to a request it could not read (its socketOnError, Node 20-24). */
const PARSE_ANSWERS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: "431 Request Header Fields Too Large",
  HPE_CHUNK_EXTENSIONS_OVERFLOW: "413 Payload Too Large",
  ERR_HTTP_REQUEST_TIMEOUT: "408 Request Timeout",
};

/**
 * What Node's server does with a request it cannot read (a 400, or 431, 413, 408, then the
 * socket destroyed), except for bytes after a request read whole while its answer is still to
 * come: after one that said `Connection: close` (or an HTTP/1.0 one without keep-alive), or a
 * pipelined request the parser cannot read (`GET /a` then `GARBAGE`). Node's parser fails on
 * them, and its 400 went out in place of the answer to the request the function was running.
 * They are dropped, as Deno.serve and Bun.serve drop them: the answer goes out, then the
 * connection closes (README.md in this folder, Serving HTTP).
 */
function answerClientError(e: Error & { code?: string; rawPacket?: Uint8Array }, socket: Duplex, refused?: (r: RefusedRequest) => void): void {
  const inFlight = (socket as Socket & { _httpMessage?: (ServerResponse & { req?: IncomingMessage }) | null })._httpMessage;
  // a parse error only: a reset (ECONNRESET) is the client gone, and its socket is destroyed below
  if (inFlight && !inFlight.writableFinished && e.code?.startsWith("HPE_") && (e.code === "HPE_CLOSED_CONNECTION" || inFlight.req?.complete)) {
    if (!inFlight.headersSent) inFlight.shouldKeepAlive = false;
    inFlight.once("finish", () => socket.end());
    return;
  }
  if (socket.writable && !inFlight?.headersSent) {
    // lanes' own answer for a request it can name (logged and counted: it has an x-request-id),
    // else the parser's. Not while a request is in flight: the bytes the parser failed on are
    // its body's (a bad chunk size, a trailer), no request line, and Bun hands as rawPacket the
    // whole request with its method in lower case, which was answered as the unserved method
    // "post" and logged as a request of its own
    const own = inFlight ? undefined : (asteriskForm(e.rawPacket) ?? unservedForm(e));
    if (own) {
      const requestId = crypto.randomUUID();
      const { bytes, status } = closingAnswer(own.error, requestId);
      socket.write(bytes);
      refused?.({ method: own.method, target: own.target, status, requestId });
    } else socket.write(`HTTP/1.1 ${(e.code && PARSE_ANSWERS[e.code]) ?? "400 Bad Request"}\r\nConnection: close\r\n\r\n`);
  }
  socket.destroy(e);
}

/** A request lanes answers itself where the parser gave up: the error, and the method and target it read. */
interface OwnAnswer {
  error: LanesError;
  method: string;
  target: string;
}

const ASTERISK = /^OPTIONS \* HTTP\/1\.[01]\r?\n/;

/**
 * `OPTIONS *` (RFC 9112, 3.2.4: about the server, not a resource) is a well-formed request that
 * Bun's node:http cannot read (a parse error, HPE_INVALID_CONSTANT, Bun 1.4.5): it got an empty
 * 400, where a Node host answers lanes' own 400 bad_request, as JSON with an x-request-id (a
 * target that is not a path, node-exchange.ts). The same answer, written here; the connection
 * still closes after it (the parser cannot go on).
 */
function asteriskForm(raw: Uint8Array | undefined): OwnAnswer | undefined {
  if (!raw || !ASTERISK.test(Buffer.from(raw.subarray(0, 20)).toString("latin1"))) return undefined;
  return { error: notAPath("*"), method: "OPTIONS", target: "*" };
}

/**
 * A method the parser does not read (`M5X`, `get`: runtime/host/methods.ts): lanes' JSON 400
 * naming it, as a Deno host answers it, not the parser's empty one. The parser's error says so
 * (HPE_INVALID_METHOD), but not for every such method: Node's reads DESCRIBE or PLAY as the start
 * of an RTSP request and fails later (HPE_INVALID_CONSTANT), PRI as HTTP/2's preface; so the
 * bytes it failed on are read too, when they begin with a method (not an earlier request's).
 */
function unservedForm(e: Error & { code?: string; rawPacket?: Uint8Array }): OwnAnswer | undefined {
  const head = e.rawPacket ? Buffer.from(e.rawPacket.subarray(0, 1024)).toString("latin1") : "";
  const line = /^([!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}) ([^ \r\n]{0,1000})/.exec(head);
  const method = line?.[1];
  if (method !== undefined && !SERVED_METHODS.has(method)) return { error: unservedMethod(method), method: method, target: line![2]! };
  return e.code === "HPE_INVALID_METHOD" ? { error: unservedMethod(undefined), method: "", target: "" } : undefined;
}

/** lanes' error answer, written on the socket as the parser gives up on it: the connection closes after it. */
function closingAnswer(err: LanesError, requestId: string): { bytes: Buffer; status: number } {
  const reply = errorReply(err, requestId);
  const body = reply.body!;
  const head = reply.headers.map(([k, v]) => `${k}: ${v}\r\n`).join("");
  const bytes = Buffer.concat([Buffer.from(`HTTP/1.1 ${reply.status} Bad Request\r\n${head}content-length: ${body.byteLength}\r\nconnection: close\r\n\r\n`, "latin1"), body]);
  return { bytes, status: reply.status };
}

/**
 * server.close() alone waits for every keep-alive socket (README.md in this folder, Serving HTTP):
 * sweep idle connections while in-flight requests finish, then cut the rest at the deadline.
 */
function closeGracefully(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), 25);
    const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** Read and drop the rest of a body the answer did not need for at most LINGER_MS, then close the connection. */
function linger(req: IncomingMessage): void {
  req.resume();
  const socket = req.socket;
  // once the body has ended the connection may carry the next request: it is left alone
  setTimeout(() => req.readableEnded || socket.destroy(), LINGER_MS).unref();
}
