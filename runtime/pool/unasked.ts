/**
 * Frames a guest sends that its host never asked for: answers (res, chunk, end, err) to request
 * ids the host never sent, and pongs to pings it never sent. A guest's own runtime sends none,
 * but a child may write frames to its pipe itself, faster than the host's one thread decodes
 * them: one writing a million pongs a second held another function of the same host at 58 req/s
 * against 23,000. Reading in turns (runtime/channel/stream-end.ts, FRAMES_PER_TURN) keeps the
 * host serving; a guest that keeps sending them is stopped, for a reason the log names.
 */

/** Unasked frames a guest may send within a second; one more stops it. */
export const UNASKED_MAX = 1000;

export class UnaskedFrames {
  private second = 0;
  private count = 0;
  private stopped = false;

  constructor(
    /** The guest sends too many: stop it, for `why`. */
    private readonly stop: (why: string) => void,
  ) {}

  /** One frame, described as `what`, that the host never asked for. */
  seen(what: string): void {
    if (this.stopped) return;
    const now = Date.now();
    if (now - this.second >= 1000) {
      this.second = now;
      this.count = 0;
    }
    if (++this.count <= UNASKED_MAX) return;
    this.stopped = true;
    this.stop(`sent more than ${UNASKED_MAX} frames within a second that the host never asked for (the last: ${what})`);
  }
}
