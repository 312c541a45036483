/**
 * One request in the guest, as one object: the parts the function's Request is made from (it is
 * the lazy Request's init: adapters/undici.ts), its signal, made when first asked for, and how the
 * host cancels it. One object in place of the init, two closures and the controller's state per
 * request (../../loadtest/README.md, The hot path).
 */
import type { RequestInit2 } from "../../adapters/undici.ts";
import type { HeaderPairs, RequestFrame } from "../channel/frames.ts";
import { SendWindow } from "./send-window.ts";

export class Call implements RequestInit2 {
  readonly url: string;
  readonly method: string;
  readonly headers: [string, string][];
  readonly body: Uint8Array | null;
  private client: AbortController | undefined;
  private cancelled: DOMException | undefined;
  /** Stops reading the Response's body, once it is being streamed to the host. */
  cancelBody: (() => void) | undefined;
  /** How far the Response's streamed body may run ahead of the client (channel/window.ts). */
  readonly window = new SendWindow();

  constructor(f: RequestFrame) {
    this.url = f.url;
    this.method = f.method;
    this.headers = f.headers;
    this.body = f.body && f.method !== "GET" && f.method !== "HEAD" ? f.body : null;
  }

  /**
   * The request's signal. The host cancels a request when its client goes away (or its time runs
   * out): the function sees request.signal abort, as on workerd. The controller is made when the
   * signal is first asked for (on Node, most requests never ask: adapters/undici.ts).
   */
  signal(): AbortSignal {
    if (!this.client) {
      this.client = new AbortController();
      if (this.cancelled) this.client.abort(this.cancelled);
    }
    return this.client.signal;
  }

  /** The host gave up on this request: abort its signal and stop reading its body. */
  cancel(): void {
    this.cancelled ??= new DOMException("the request was cancelled: its client went away or its time ran out", "AbortError");
    this.client?.abort(this.cancelled);
    this.cancelBody?.();
    this.window.close();
  }

  /** The host took more of the streamed body on to the client's connection. */
  ack(): void {
    this.window.ack();
  }
}

/** The host puts a valid traceparent in every request's headers (runtime/ops/trace.ts). */
export function traceparentOf(headers: HeaderPairs): string {
  for (const [name, value] of headers) if (name.length === 11 && name.toLowerCase() === "traceparent") return value;
  return "";
}
