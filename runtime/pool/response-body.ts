/**
 * The body of a response the guest streams: chunk frames feed it as they come. A response that
 * cannot finish (the function's stream failed, its deadline passed, its instance died) must
 * reach the client cut short, never as a clean end, and still with every byte produced before:
 * the cut waits until the server has taken what is queued (at most CUT_WAIT_MS, for a client
 * that stopped reading).
 *
 * The guest sends at most RESPONSE_WINDOW bytes ahead of what the server took from here; each
 * ACK_BYTES taken are acknowledged (`onAck`), so the host holds a bounded part of a response
 * whose client reads slower than its function produces (channel/window.ts).
 *
 * A body whose answer says its length (the function's Content-Length, runtime/pool/framing.ts)
 * is held to it: the client reads that many bytes and then the next answer on the connection,
 * so bytes past it are never sent (the function's stream is stopped), and a body that ends short
 * of it is cut, never ended as if whole.
 */
import { ACK_BYTES, RESPONSE_WINDOW } from "../channel/window.ts";

const CUT_WAIT_MS = 1000;

export class ResponseBody {
  readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private cutWhenDrained: (() => void) | undefined;
  private done = false;
  /** Bytes put in, and bytes acknowledged to the guest as taken by the server. */
  private pushed = 0;
  private acked = 0;

  constructor(
    first: Uint8Array | null,
    private readonly onCancel: () => void,
    private readonly onAck: () => void,
    /** The length the answer says, or -1 (sent chunked). */
    private readonly declared = -1,
    /** The body had more bytes than `declared`: the rest was not sent, for `why`. */
    private readonly onOverrun: (why: string) => void = () => {},
  ) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
          if (first && first.byteLength > 0) this.push(first);
        },
        // called whenever the server took a chunk and less than the window is queued; the cut
        // waits for the queue to empty, then a turn more, for the server to write the chunk it just took
        pull: () => {
          if (this.cutWhenDrained) {
            if (this.queued() === 0) setTimeout(this.cutWhenDrained, 0);
            return;
          }
          if (!this.done) this.ack();
        },
        cancel: () => {
          this.done = true;
          this.onCancel();
        },
      },
      // counted in bytes, so that `desiredSize` says how many are queued
      { highWaterMark: RESPONSE_WINDOW, size: (chunk) => chunk.byteLength },
    );
  }

  /**
   * A chunk from the guest; false when the guest sent it with a whole window unacknowledged,
   * which a guest that keeps the window never does (it has seen at most the acks sent): the
   * host would hold whatever such a guest sends, as fast as it sends it, until the deadline.
   */
  push(bytes: Uint8Array): boolean {
    if (this.done) return true;
    if (this.pushed - this.acked >= RESPONSE_WINDOW) return false;
    const room = this.declared - this.pushed;
    if (this.declared >= 0 && bytes.byteLength > room) {
      if (room > 0) this.controller.enqueue(bytes.subarray(0, room));
      this.pushed = this.declared;
      this.end();
      this.onOverrun(`the function's body stream gave more bytes than its Content-Length (${this.declared}): the rest was not sent`);
      this.onCancel();
      return true;
    }
    this.pushed += bytes.byteLength;
    this.controller.enqueue(bytes);
    return true;
  }

  /** Why the body, ended now, falls short of the length its answer says; undefined when it does not. */
  get short(): string | undefined {
    if (this.declared < 0 || this.pushed >= this.declared) return undefined;
    return `the function's body stream ended after ${this.pushed} of the ${this.declared} bytes its Content-Length says`;
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.controller.close();
  }

  /** Cut the body short: the stream errors with `err` (the server then ends the response unfinished). */
  cut(err: Error): void {
    if (this.done) return;
    this.done = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const now = () => {
      if (!this.cutWhenDrained && timer) return; // already cut
      this.cutWhenDrained = undefined;
      clearTimeout(timer);
      this.controller.error(err);
    };
    if (this.queued() === 0) {
      now();
      return;
    }
    this.cutWhenDrained = now;
    timer = setTimeout(now, CUT_WAIT_MS);
  }

  private queued(): number {
    return RESPONSE_WINDOW - (this.controller.desiredSize ?? RESPONSE_WINDOW);
  }

  /** Tell the guest of each ACK_BYTES the server took since the last ack. */
  private ack(): void {
    const taken = this.pushed - this.queued();
    while (taken - this.acked >= ACK_BYTES) {
      this.acked += ACK_BYTES;
      this.onAck();
    }
  }
}
