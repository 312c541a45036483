/**
 * How a sleeping side of a ring is woken. The ring itself (the bytes) is always shared memory;
 * only the doorbell differs:
 *
 * - `atomicsWakeup`: `Atomics.waitAsync` to sleep, `Atomics.notify` to wake (Node).
 * - `messageWakeup`: a one-number message on the worker's port (Deno, Bun). Deno's waitAsync
 *   loses wake-ups once a worker that had a wait pending is terminated: a worker started after
 *   that may never hear its first frame (3 starts in 15 hung until their 15 s timeout; none with
 *   messages). On Deno a message doorbell costs the same as Atomics, on Bun less: measured in
 *   ../../adapters/README.md, Channel.
 *
 * A side waits on one of two words of a ring's header: WRITE (the reader, for frames) or READ
 * (the writer, for room). Each side reads one ring and writes the other, so the word alone says
 * which ring a doorbell is for.
 */
export const WAIT_WRITE = 0;
export const WAIT_READ = 1;

export interface Wakeup {
  /** Wake the other side, which sleeps on `word` of `ctl`. */
  wake(ctl: Int32Array, word: number): void;
  /** Sleep until `ctl[word]` may have moved on from `seen`, then call `then` once. */
  wait(ctl: Int32Array, word: number, seen: number, then: () => void): void;
  /** Forget pending waits (the channel is closed). */
  close(ctl: Int32Array): void;
}

export const atomicsWakeup: Wakeup = {
  wake: (ctl, word) => void Atomics.notify(ctl, word),
  wait(ctl, word, seen, then) {
    const w = Atomics.waitAsync(ctl, word, seen);
    if (w.async) void w.value.then(then);
    else queueMicrotask(then);
  },
  close(ctl) {
    // resolve our own pending waits, so none is left in the runtime's wait list
    Atomics.notify(ctl, WAIT_WRITE);
    Atomics.notify(ctl, WAIT_READ);
  },
};

/** Doorbells as messages: `post` sends the word to the other side, which hands it to `ring`. */
export function messageWakeup(post: (word: number) => void): Wakeup & { ring(word: number): void } {
  // by word (WAIT_WRITE or WAIT_READ); not a Map, which churns (runtime/id-table.ts)
  const sleepers: ((() => void) | undefined)[] = [undefined, undefined];
  return {
    wake: (_ctl, word) => post(word),
    // the caller checked `seen` after saying it sleeps: a doorbell cannot come before this runs
    wait: (_ctl, word, _seen, then) => void (sleepers[word] = then),
    close: () => void sleepers.fill(undefined),
    ring(word) {
      const then = sleepers[word];
      if (!then) return; // a side that was already awake, or a word that is not one
      sleepers[word] = undefined;
      then();
    },
  };
}
