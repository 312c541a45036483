/**
 * When the host starts listening for a request's client to go away. Listening costs every
 * request about 1 µs of CPU on Deno and on Bun (a bare server; on Deno the request's `signal` is
 * made on demand and holds a cancel op until the request ends; ../../loadtest/README.md, The hot
 * path). Most requests are answered long before their client could leave, so a request is
 * watched only once it has been in flight for one to two `afterMs` periods. A client that left
 * before that is heard of as soon as it is watched (`Exchange.onAbort` calls back at once for
 * one already gone), so the function's `request.signal` still aborts, at most `2 × afterMs`
 * later.
 *
 * Two generations behind one timer per instance: a request joins the young one; each tick
 * watches the old one's requests still in flight, and the young become old. No timer runs
 * while nothing waits.
 */
import type { ClientHooks } from "./instance-events.ts";

export const WATCH_AFTER_MS = 10;

export class ClientWatch {
  // ids only: holding a request's objects for these milliseconds, past its answer, would carry
  // them through young collections into the old generation
  private young: number[] = [];
  private old: number[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    /** The client of a request still in flight, or undefined once it is answered. */
    private readonly clientOf: (id: number) => ClientHooks | undefined,
    /** Its client went away. */
    private readonly gone: (id: number) => void,
    private readonly afterMs = WATCH_AFTER_MS,
  ) {}

  add(id: number): void {
    this.young.push(id);
    this.timer ??= setTimeout(this.tick, this.afterMs);
  }

  /** Nothing is in flight any more (the instance ended). */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.young = [];
    this.old = [];
  }

  private readonly tick = (): void => {
    const due = this.old;
    this.old = this.young;
    this.young = [];
    for (const id of due) this.clientOf(id)?.onGone?.(this.gone.bind(undefined, id));
    this.timer = this.old.length > 0 ? setTimeout(this.tick, this.afterMs) : undefined;
  };
}
