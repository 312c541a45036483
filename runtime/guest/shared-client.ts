/**
 * ctx.shared inside a guest. Isolate lane: straight on the SharedArrayBuffer with Atomics, no
 * message hop. Process lane: the same calls as frames to the host, which owns the buffer.
 */
import { SharedStore, SharedStoreError, type SharedSeat, type SharedStoreErrorCode } from "../shared/store.ts";
import type { GuestToHost, HostToGuest, SharedCallFrame } from "../channel/frames.ts";
import type { GuestShared } from "./guest.ts";
import { IdTable } from "../id-table.ts";
import { checkDelta, checkValue, keyBytes } from "../shared/layout.ts";

/** `seat`: this worker's identity at the store, so the host can take back a lock it dies holding. */
export function sharedInMemory(buffer: SharedArrayBuffer, seat?: SharedSeat): GuestShared {
  const store = new SharedStore(buffer, seat ? { seat } : {});
  return {
    add: async (key, delta) => store.add(key, delta),
    get: async (key) => store.get(key),
    set: async (key, value) => store.set(key, value),
  };
}

export function sharedOverIpc(post: (f: GuestToHost) => void): GuestShared {
  let next = 0;
  // not a Map: an entry per call in and out (runtime/id-table.ts says why)
  const waiting = new IdTable<{ resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const call = (op: SharedCallFrame["op"], key: string, value?: string | number) =>
    new Promise<unknown>((resolve, reject) => {
      const id = ++next;
      waiting.set(id, { resolve, reject });
      post(value === undefined ? { t: "shared", id, op, key } : { t: "shared", id, op, key, value });
    });
  // checked here as the store checks them: a key or value the codec cannot write (an object, a
  // number key, a bigint) made a malformed frame, and the host stopped the whole instance
  return {
    add: async (key, delta) => {
      checkDelta(key, delta);
      keyBytes(key);
      return (await call("add", key, delta)) as number;
    },
    get: async (key) => {
      keyBytes(key);
      return ((await call("get", key)) as string | null) ?? undefined;
    },
    set: async (key, value) => {
      checkValue(key, value);
      keyBytes(key);
      await call("set", key, value);
    },
    deliver(f: HostToGuest) {
      if (f.t !== "shared-reply") return;
      const w = waiting.get(f.id);
      if (!w) return;
      waiting.delete(f.id);
      // the same error class and code as the isolate lane, where the store throws directly
      if (f.error !== undefined) {
        w.reject(f.code ? new SharedStoreError(f.code as SharedStoreErrorCode, f.error) : new Error(f.error));
      } else w.resolve(f.value);
    },
  };
}

/** What a function's ctx.shared offers: the guest's store, without its internals. */
export type CtxShared = { add(key: string, delta?: number): Promise<number>; get(key: string): Promise<string | undefined>; set(key: string, value: string): Promise<void> };

export function ctxSharedOf(shared: GuestShared): CtxShared {
  return {
    add: (key: string, delta = 1) => shared.add(key, delta),
    get: (key: string) => shared.get(key),
    set: (key: string, value: string) => shared.set(key, value),
  };
}
