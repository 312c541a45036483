/**
 * A pool's back-off when its function keeps failing to start: the wait doubles with each failure
 * in a row (250 ms up to 30 s), and one timer tries again when it ends. Failures in a row are
 * counted until an instance serves a request: one that starts and dies at once, again and
 * again, must still back off exponentially.
 */
import type { LanesError } from "../errors.ts";

const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 30_000;

export class StartBackoff {
  /** Failed starts in a row. */
  failures = 0;
  /** No start is tried before this time (ms since the epoch). */
  until = 0;
  /** Why the last start failed; cleared by a successful start. */
  lastError: LanesError | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  /** A start failed: returns how long the pool now waits. */
  failed(err: LanesError): number {
    this.failures++;
    const wait = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.failures - 1));
    this.until = Date.now() + wait;
    this.lastError = err;
    return wait;
  }

  /** An instance served a request: whatever failed before is over. */
  served(): void {
    if (this.failures !== 0) this.failures = 0;
  }

  /** True when a start may be tried now; otherwise `retry` runs once the back-off ends (one timer, however often asked). */
  ready(retry: () => void): boolean {
    const wait = this.until - Date.now();
    if (wait <= 0) return true;
    if (!this.retryTimer) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        retry();
      }, wait);
      (this.retryTimer as { unref?: () => void }).unref?.();
    }
    return false;
  }

  stop(): void {
    clearTimeout(this.retryTimer);
  }
}
