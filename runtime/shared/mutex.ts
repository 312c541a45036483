/**
 * The store's one mutex: Drepper's futex mutex ("Futexes Are Tricky"), with the holder's owner id
 * as the "held" value, so that a lock held by a thread that died can be taken back: the host
 * closes the dead seat's fence (it can never take the lock again) and takes the lock over, or,
 * where a terminated thread may still run (Deno), marks it abandoned and lets the next thread
 * that wants it take it over ZOMBIE_GRACE_MS later. Whoever takes a lock over repairs the store.
 */
import { closed, H_ABANDONED, H_ABANDONED_AT, H_LOCK, OWNER, SharedStoreError, SPINS, WAIT_SLICE_MS, WAITERS, ZOMBIE_GRACE_MS, type SharedSeat } from "./layout.ts";

let canBlock = true; // Atomics.wait throws on a browser main thread; then we only spin

export class OwnedMutex {
  /** This attachment's id in the lock word. */
  readonly owner: number;
  private readonly fence: Int32Array<SharedArrayBuffer>;

  constructor(
    private readonly h: Int32Array<SharedArrayBuffer>,
    seat: SharedSeat,
    private readonly lockTimeoutMs: number,
    /** Recompute what a dead holder may have left half-done (called with the lock held). */
    private readonly repair: () => void,
  ) {
    this.owner = seat.owner;
    this.fence = new Int32Array(seat.fence, 0, 1);
  }

  /**
   * `seat`'s thread is gone: it may no longer take the lock, and a lock it still holds is taken
   * over and the store repaired (or, with `mayStillRun`, marked abandoned). Returns whether it held it.
   */
  takeOverFrom(seat: SharedSeat, mayStillRun: boolean): boolean {
    Atomics.store(new Int32Array(seat.fence, 0, 1), 0, 1);
    const h = this.h;
    let held = false;
    for (;;) {
      const v = Atomics.load(h, H_LOCK);
      if ((v & OWNER) !== seat.owner) return held;
      held = true;
      if (mayStillRun) {
        // time first: a thread that sees the new owner id must also see its deadline
        Atomics.store(h, H_ABANDONED_AT, (Date.now() + ZOMBIE_GRACE_MS) | 0);
        Atomics.store(h, H_ABANDONED, seat.owner);
        return true;
      }
      if (Atomics.compareExchange(h, H_LOCK, v, this.owner | WAITERS) === v) {
        this.repair();
        this.unlock();
        return true;
      }
    }
  }

  lock(): void {
    // A closed seat never touches the lock word again (a thread that outlived terminate() may
    // still be stopped later, anywhere). Checked again once the lock is ours, for a seat closed
    // while we raced for it: recoverFrom stores the fence, then reads the lock word, so one of
    // the two sees the other.
    if (Atomics.load(this.fence, 0) !== 0) throw closed();
    if (Atomics.compareExchange(this.h, H_LOCK, 0, this.owner) !== 0) this.lockSlow();
    if (Atomics.load(this.fence, 0) !== 0) {
      this.unlock();
      throw closed();
    }
  }

  private lockSlow(): void {
    const h = this.h;
    const me = this.owner;
    for (let i = 0; i < SPINS; i++) {
      if (Atomics.load(h, H_LOCK) === 0 && Atomics.compareExchange(h, H_LOCK, 0, me) === 0) return;
    }
    const deadline = Date.now() + this.lockTimeoutMs;
    for (;;) {
      let v = Atomics.load(h, H_LOCK);
      if (v === 0) {
        // we were (or may be) one of several waiters: keep the flag so unlock wakes the next
        if (Atomics.compareExchange(h, H_LOCK, 0, me | WAITERS) === 0) return;
        continue;
      }
      if (this.abandoned(v)) {
        if (Atomics.compareExchange(h, H_LOCK, v, me | WAITERS) === v) {
          this.repair();
          return;
        }
        continue;
      }
      if ((v & WAITERS) === 0) {
        if (Atomics.compareExchange(h, H_LOCK, v, v | WAITERS) !== v) continue;
        v |= WAITERS;
      }
      if (Date.now() > deadline) {
        throw new SharedStoreError("shared_busy", `ctx.shared is busy: lock not acquired within ${this.lockTimeoutMs} ms`);
      }
      if (canBlock) {
        // Short slices, never forever: a holder that died never notifies.
        try {
          Atomics.wait(h, H_LOCK, v, WAIT_SLICE_MS);
        } catch {
          canBlock = false;
        }
      }
    }
  }

  /** Lock word `v` belongs to an owner reported gone whose grace has run out. */
  private abandoned(v: number): boolean {
    const gone = Atomics.load(this.h, H_ABANDONED);
    return gone !== 0 && (v & OWNER) === gone && (((Date.now() | 0) - Atomics.load(this.h, H_ABANDONED_AT)) | 0) >= 0;
  }

  unlock(): void {
    const h = this.h;
    const me = this.owner;
    if (Atomics.compareExchange(h, H_LOCK, me, 0) === me) return;
    if (Atomics.compareExchange(h, H_LOCK, me | WAITERS, 0) === (me | WAITERS)) Atomics.notify(h, H_LOCK, 1);
    // otherwise it was taken over from us (we were reported gone): it is not ours to release
  }
}
