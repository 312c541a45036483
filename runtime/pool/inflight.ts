/**
 * The requests in flight on one instance: each has an id on the channel, a deadline, and a
 * caller waiting for its reply. Response frames become Replies here (the server writes those
 * as they are); a streamed body becomes a ReadableStream fed by chunk frames.
 */
import type { Reply } from "../../adapters/types.ts";
import type { HeaderPairs, ResponseFrame } from "../channel/frames.ts";
import { LanesError } from "../errors.ts";

interface InFlight {
  /** Stamped on the response as x-request-id. */
  requestId: string;
  resolve(reply: Reply): void;
  reject(err: LanesError): void;
  stream?: ReadableStreamDefaultController<Uint8Array>;
  /** The head went to the client: a failure now can only cut the body. */
  answered: boolean;
  /** The request's one deadline timer; it covers a streamed body too. */
  timer: ReturnType<typeof setTimeout>;
}

export class InFlightTable {
  private readonly requests = new Map<number, InFlight>();
  private nextId = 0;

  constructor(
    /** A request ran past its deadline. */
    private readonly onExpire: (id: number) => void,
    /** The client stopped reading a streamed body. */
    private readonly onCancel: (id: number) => void,
    /** A request left the table (answered, failed, abandoned). */
    private readonly onSettle: () => void,
  ) {}

  get size(): number {
    return this.requests.size;
  }

  /** A new request id and the promise its reply settles. */
  add(requestId: string, deadline: number): { id: number; reply: Promise<Reply> } {
    const id = ++this.nextId;
    const reply = new Promise<Reply>((resolve, reject) => {
      // setTimeout's extra argument: no closure per request
      const timer = setTimeout(this.onExpire, Math.max(0, deadline - Date.now()), id);
      this.requests.set(id, { requestId, resolve, reject, answered: false, timer });
    });
    return { id, reply };
  }

  has(id: number): boolean {
    return this.requests.has(id);
  }

  /** The head of a response arrived. */
  head(f: ResponseFrame): void {
    const r = this.requests.get(f.id);
    if (!r) return;
    r.answered = true;
    const headers: HeaderPairs = f.headers;
    headers.push(["x-request-id", r.requestId]);
    if (!f.more) {
      this.settle(f.id, r);
      r.resolve({ status: f.status, statusText: f.statusText, headers, body: f.body });
      return;
    }
    const first = f.body;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        r.stream = controller;
        if (first && first.byteLength > 0) controller.enqueue(first);
      },
      cancel: () => {
        // the client went away: stop the function's stream and free the slot
        if (this.requests.get(f.id) !== r) return;
        this.settle(f.id, r);
        this.onCancel(f.id);
      },
    });
    r.resolve({ status: f.status, statusText: f.statusText, headers, body: null, stream });
  }

  chunk(id: number, body: Uint8Array): void {
    this.requests.get(id)?.stream?.enqueue(body);
  }

  end(id: number, error?: string): void {
    const r = this.requests.get(id);
    if (!r) return;
    this.settle(id, r);
    if (error !== undefined) r.stream?.error(new Error(error));
    else r.stream?.close();
  }

  /** The request failed: its caller gets `err` (or its stream is cut, if the head went out). */
  fail(id: number, err: LanesError): boolean {
    const r = this.requests.get(id);
    if (!r) return false;
    this.settle(id, r);
    if (r.answered) r.stream?.error(err);
    else r.reject(err);
    return true;
  }

  /** Every request fails with `err` (the instance is gone). */
  failAll(err: LanesError): void {
    for (const id of [...this.requests.keys()]) this.fail(id, err);
  }

  private settle(id: number, r: InFlight): void {
    this.requests.delete(id);
    clearTimeout(r.timer);
    this.onSettle();
  }
}
