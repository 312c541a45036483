/**
 * A process-lane guest's ctx.shared calls, answered on the host's main thread. Each answer is
 * written to the guest's pipe, and a pipe the guest does not read keeps what is written in the
 * host's memory: a child that wrote `get` calls for a 200 KB value and read none of the answers
 * grew its host by 1.4 GB in 1.5 s. So once the guest has more than UNREAD_MAX bytes of its
 * channel unread, its calls wait (in order) until it reads; a guest that keeps calling while
 * WAITING_MAX of its calls wait has stopped reading for good, and is stopped.
 */
import type { HostEnd } from "../channel/end.ts";
import type { SharedCallFrame } from "../channel/frames.ts";
import type { InstanceEvents } from "./instance-events.ts";

/** The guest's unread channel past which its ctx.shared calls wait. */
export const UNREAD_MAX = 16 * 1024 * 1024;
/** Calls that may wait for the guest to read; one more stops it. */
export const WAITING_MAX = 4096;
/** How often waiting calls look whether the guest has read. */
const RETRY_MS = 5;

export class SharedCalls {
  private waiting: SharedCallFrame[] = [];
  private retry: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(
    /** The store's answer to a call (it throws a SharedStoreError for a bad key or a full store). */
    private readonly events: Pick<InstanceEvents, "shared">,
    /** The channel to the guest: the answers, and how much of it the guest has not read. */
    private readonly end: HostEnd,
    /** The guest keeps calling without reading: stop it, for `why`. */
    private readonly flooding: (why: string) => void,
  ) {}

  private unread(): number {
    return this.end.unread?.() ?? 0;
  }

  call(f: SharedCallFrame): void {
    if (this.closed) return;
    if (this.waiting.length === 0 && this.unread() <= UNREAD_MAX) return this.answer(f);
    if (this.waiting.length >= WAITING_MAX) {
      const unread = this.unread();
      this.close();
      this.flooding(`stopped reading its channel: ${WAITING_MAX} ctx.shared calls waited behind ${Math.round(unread / (1024 * 1024))} MB it had not read`);
      return;
    }
    this.waiting.push(f);
    this.retry ??= setTimeout(this.answerWaiting, RETRY_MS);
  }

  private answer(f: SharedCallFrame): void {
    try {
      const value = this.events.shared(f.op, f.key, f.value);
      this.end.send({ t: "shared-reply", id: f.id, value: value ?? null });
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      this.end.send({ t: "shared-reply", id: f.id, error: (e as Error).message, ...(typeof code === "string" ? { code } : {}) });
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.waiting = [];
  }

  private readonly answerWaiting = (): void => {
    this.retry = undefined;
    let n = 0;
    while (n < this.waiting.length && this.unread() <= UNREAD_MAX) this.answer(this.waiting[n++]!);
    this.waiting.splice(0, n);
    if (this.waiting.length > 0 && !this.closed) this.retry = setTimeout(this.answerWaiting, RETRY_MS);
  };
}
