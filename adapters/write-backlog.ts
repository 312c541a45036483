/**
 * What a process-lane child's writer holds that its stdout could not take at once, and the wait
 * for it to go down (BytePipe.room, runtime/channel/stream-end.ts). Node's fd 1 blocks, so a
 * node child's writes wait for the host to read and nothing piles up. Bun makes fd 1
 * non-blocking, and Deno's large writes go on in the background (child-pipe.ts): there, every
 * streamed answer's window (runtime/channel/window.ts) could be queued in the child at once. A
 * bun child streaming 50 answers of 2 MiB held 82-93 MB of frames queued in 165-187 MB of batch
 * buffers, went past 370 MB resident within 100 ms and was stopped by the watchdog
 * (README.md in this folder, Child processes). A stream now reads no more of the function's body
 * while BACKLOG_MAX bytes wait: the child holds what the pipe is about to take, as a node child
 * does, and the window still bounds what goes ahead of each client.
 */

/** Enough to keep the pipe busy (a socketpair holds 208 KiB, a grown pipe 1 MiB: pipe-size.ts). */
export const BACKLOG_MAX = 1024 * 1024;

export class WriteBacklog {
  private bytes = 0;
  private waiting: (() => void)[] = [];

  constructor(private readonly max = BACKLOG_MAX) {}

  /** `n` more bytes wait to be written. */
  add(n: number): void {
    this.bytes += n;
  }

  /** `n` of them are written (or failed to be): wakes the waits once under the limit. */
  taken(n: number): void {
    this.bytes -= n;
    if (this.bytes < this.max && this.waiting.length > 0) {
      for (const wake of this.waiting.splice(0)) wake();
    }
  }

  /** Undefined under the limit, else resolves once back under it. */
  room(): Promise<void> | undefined {
    if (this.bytes < this.max) return undefined;
    return new Promise<void>((r) => this.waiting.push(r));
  }
}
