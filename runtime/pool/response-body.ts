/**
 * The body of a response the guest streams: chunk frames feed it as they come. A response that
 * cannot finish (the function's stream failed, its deadline passed, its instance died) must
 * reach the client cut short, never as a clean end, and still with every byte produced before:
 * the cut waits until the server has taken what is queued (at most CUT_WAIT_MS, for a client
 * that stopped reading).
 */
const CUT_WAIT_MS = 1000;

export class ResponseBody {
  readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private cutWhenDrained: (() => void) | undefined;
  private done = false;

  constructor(first: Uint8Array | null, onCancel: () => void) {
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
        if (first && first.byteLength > 0) controller.enqueue(first);
      },
      // called once the server has taken the queued chunks and wants more; the cut waits a
      // turn more, for the server to write the chunk it just took
      pull: () => {
        if (this.cutWhenDrained) setTimeout(this.cutWhenDrained, 0);
      },
      cancel: () => {
        this.done = true;
        onCancel();
      },
    });
  }

  push(bytes: Uint8Array): void {
    if (!this.done) this.controller.enqueue(bytes);
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
    if ((this.controller.desiredSize ?? 0) >= 1) {
      now(); // nothing queued
      return;
    }
    this.cutWhenDrained = now;
    timer = setTimeout(now, CUT_WAIT_MS);
  }
}
