/**
 * The requests in flight on one instance: each has an id on the channel, a deadline, and a
 * caller waiting for its reply. Response frames become Replies here (the server writes those
 * as they are); a streamed body becomes a ReadableStream fed by chunk frames.
 */
import { hostBuffers } from "../channel/buffer-pool.ts";
import type { Reply } from "../../adapters/types.ts";
import type { HeaderPairs, ResponseFrame } from "../channel/frames.ts";
import { LanesError } from "../errors.ts";
import { IdTable } from "../id-table.ts";
import { ClientWatch } from "./client-watch.ts";
import { Deadlines } from "./deadlines.ts";
import { declaredLength, finalStatus, framedHeaders, unsendableHeader } from "./framing.ts";
import type { ClientHooks } from "./instance-events.ts";
import { reasonPhrase } from "./reason-phrase.ts";
import { ResponseBody } from "./response-body.ts";

interface InFlight {
  /** Stamped on the response as x-request-id. */
  requestId: string;
  resolve(reply: Reply): void;
  reject(err: LanesError): void;
  body?: ResponseBody;
  /** The head went to the client: a failure now can only cut the body. */
  answered: boolean;
  /** A HEAD request: its answer has no body (framing.ts). */
  head: boolean;
  /** Hears of the client going away, once the request has been in flight a while (client-watch.ts). */
  client?: ClientHooks;
}

export class InFlightTable {
  /** Not a Map: one entry per request in and out (runtime/id-table.ts says why). */
  private readonly requests = new IdTable<InFlight>();
  private nextId = 0;
  /** One timer for every request's deadline; it covers a streamed body too. */
  private readonly deadlines: Deadlines;
  /** Listens for a request's client going away once the request has been in flight a while. */
  private readonly clients: ClientWatch;

  constructor(
    /** A request ran past its deadline. */
    onExpire: (id: number) => void,
    /** To the guest: the client stopped reading a streamed body ("cancel"), or the server took more of it ("ack"). */
    private readonly tell: (id: number, t?: "cancel" | "ack") => void,
    /** A request left the table (answered, failed, abandoned). */
    private readonly onSettle: () => void,
    /** A response whose head went out could not finish: its body was cut short, for `why`. */
    private readonly onCut: (requestId: string, why: string) => void = () => {},
    /** The client of a request in flight went away. */
    onClientGone: (id: number) => void = () => {},
  ) {
    this.deadlines = new Deadlines((id) => this.requests.has(id), onExpire);
    this.clients = new ClientWatch((id) => this.requests.get(id)?.client, onClientGone);
  }

  get size(): number {
    return this.requests.size;
  }

  /** A new request id and the promise its reply settles; `client` says when its client goes away. */
  add(requestId: string, deadline: number, client: ClientHooks = {}, head = false): { id: number; reply: Promise<Reply> } {
    const id = ++this.nextId;
    const reply = new Promise<Reply>((resolve, reject) => {
      this.requests.set(id, { requestId, resolve, reject, answered: false, head, client: client.onGone ? client : undefined });
    });
    this.deadlines.add(id, deadline);
    if (client.onGone) this.clients.add(id);
    return { id, reply };
  }

  has(id: number): boolean {
    return this.requests.has(id);
  }

  /** Whether `id` is one this table gave out (its request may have settled since): an answer to any other was never asked for. */
  gaveOut(id: number): boolean {
    return id >= 1 && id <= this.nextId;
  }

  /** The request id of request `id` in flight, for the log lines it causes. */
  requestIdOf(id: number): string | undefined {
    return this.requests.get(id)?.requestId;
  }

  /** The head of a response arrived: the host frames it (framing.ts). */
  head(f: ResponseFrame): void {
    const r = this.requests.get(f.id);
    if (!r) return;
    // Bun's and Deno's Response take 101, which would turn the client's connection into another protocol
    const refused = finalStatus(f.status)
      ? unsendableHeader(f.headers)
      : new LanesError("function_error", `the function answered status ${f.status}: a function's answer must be a final status, 200 to 599`);
    if (refused) {
      this.fail(f.id, refused);
      if (f.more) this.tell(f.id);
      return;
    }
    r.answered = true;
    // a streamed body, or none where the GET's would be (framing.ts): the function's own length
    const lengthMayStay = f.status !== 204 && (f.more || (f.body === null && (r.head || f.status === 304)));
    const declared = lengthMayStay ? declaredLength(f.headers) : -1;
    const headers: HeaderPairs = framedHeaders(f.headers, r.requestId, declared >= 0);
    const statusText = reasonPhrase(f.statusText);
    if (!f.more) {
      this.settle(f.id);
      const body = f.body;
      // from the host's pool when it came through a pipe in several reads (only large ones do)
      r.resolve({ status: f.status, statusText, headers, body, written: hostBuffers.mayHold(body) ? () => hostBuffers.give(body) : undefined });
      return;
    }
    r.body = new ResponseBody(
      f.body,
      () => {
        // the client went away, or the body reached its Content-Length: stop the function's stream and free the slot
        if (this.requests.get(f.id) !== r) return;
        this.settle(f.id);
        this.tell(f.id);
      },
      () => this.requests.get(f.id) === r && this.tell(f.id, "ack"),
      r.head ? -1 : declared,
      (why) => this.onCut(r.requestId, why),
    );
    r.resolve({ status: f.status, statusText, headers, body: null, stream: r.body.stream });
  }

  /** A chunk of a streamed body; false when the guest sent it past the response's window (response-body.ts). */
  chunk(id: number, body: Uint8Array): boolean {
    return this.requests.get(id)?.body?.push(body) ?? true;
  }

  end(id: number, error?: string): void {
    const r = this.requests.get(id);
    if (!r) return;
    this.settle(id);
    if (error !== undefined) this.cut(r, new LanesError("function_error", `the function's body stream failed: ${error}`));
    else if (r.body?.short) this.cut(r, new LanesError("function_error", r.body.short));
    else r.body?.end();
  }

  /** The request failed: its caller gets `err` (or its stream is cut, if the head went out). */
  fail(id: number, err: LanesError): boolean {
    const r = this.requests.get(id);
    if (!r) return false;
    this.settle(id);
    if (r.answered) this.cut(r, err);
    else r.reject(err);
    return true;
  }

  /**
   * A response whose head went out cannot finish: the client sees its body cut short (not a
   * clean end), and the log says why, once, as a line (never a raw error dump).
   */
  private cut(r: InFlight, err: LanesError): void {
    if (err.code !== "client_gone") this.onCut(r.requestId, err.message);
    r.body?.cut(err);
  }

  /** Every request fails with `err` (the instance is gone). */
  failAll(err: LanesError): void {
    for (const id of this.requests.keys()) this.fail(id, err);
    this.deadlines.clear();
    this.clients.clear();
  }

  private settle(id: number): void {
    this.requests.delete(id);
    this.deadlines.trim();
    this.onSettle();
  }
}
