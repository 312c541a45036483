/**
 * The guest's side of a streamed response's window (channel/window.ts): how many bytes it sent
 * that the host has not acknowledged yet, and the wait for room when that is a whole window.
 */
import { ACK_BYTES, RESPONSE_WINDOW } from "../channel/window.ts";

export class SendWindow {
  private unacked = 0;
  private wake: (() => void) | undefined;
  /** Cancelled: nothing more goes out, so nothing waits for room. */
  private open = true;

  sent(bytes: number): void {
    this.unacked += bytes;
  }

  /** The host took ACK_BYTES more on to the client's connection. */
  ack(): void {
    this.unacked -= ACK_BYTES;
    if (this.unacked < RESPONSE_WINDOW) this.release();
  }

  /** The request was cancelled: a sender waiting for room goes on (and finds its stream cancelled). */
  close(): void {
    this.open = false;
    this.release();
  }

  /** Resolves once the guest may send more; undefined when it may at once (no promise per chunk). */
  room(): Promise<void> | undefined {
    if (this.unacked < RESPONSE_WINDOW || !this.open) return undefined;
    return new Promise<void>((r) => (this.wake = r));
  }

  private release(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
