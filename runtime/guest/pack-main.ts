/**
 * Entry of a packed worker (runtime/pack/): several isolate-lane functions in one worker thread,
 * one per slot, each in a context of its own. Compiled to .mjs by the host (compile.ts).
 * Each function's ctx.shared store comes beside the channel, as a message on the worker's port,
 * when the function first uses ctx.shared (runtime/pack/messages.ts).
 */
import { contextLoader } from "../../adapters/guest-context.ts";
import { guestData, schedule as endOfTurn, workerPostPort, workerReadScheduler } from "../../adapters/guest.ts";
import { guestRingEnd, type PostPort } from "../channel/ring-end.ts";
import { isStoreMessage, type PackedGuestData, type StoreMessage, type StoreWanted } from "../pack/messages.ts";
import { startGuest, type GuestShared, type PackedLoader } from "./guest.ts";
import { sharedInMemory } from "./shared-client.ts";

const data = guestData() as PackedGuestData;
const port = workerPostPort();
const stores = new Map<number, StoreMessage>();
const waiting = new Map<number, (m: StoreMessage) => void>();
const ringPort: PostPort = {
  post: (m, transfer) => port.post(m, transfer),
  onMessage: (listener) =>
    port.onMessage((m) => {
      if (!isStoreMessage(m)) return listener(m);
      stores.set(m.slot, m);
      waiting.get(m.slot)?.(m);
      waiting.delete(m.slot);
    }),
};
const schedule = workerReadScheduler();
const end = guestRingEnd({ sab: data.channel, port: ringPort, wakeBy: data.wakeBy, reads: data.reads, wake: endOfTurn, ...(schedule ? { schedule } : {}) });

const contexts = contextLoader();
const files = new Map<number, string>();
const loader: PackedLoader = {
  async load(spec, slot, log, globals) {
    const { exports, file } = await contexts.load(spec, log, globals);
    files.set(slot, file);
    return exports;
  },
  async shared(slot): Promise<GuestShared> {
    let direct: GuestShared | undefined;
    let asking: Promise<GuestShared> | undefined;
    const store = () =>
      (asking ??= new Promise<StoreMessage>((resolve) => {
        const m = stores.get(slot);
        if (m) return resolve(m);
        waiting.set(slot, resolve);
        const wanted: StoreWanted = { lanesStoreWanted: true, slot };
        (port.post as (m: unknown) => void)(wanted);
      }).then((m) => (direct = sharedInMemory(m.buffer, m.seat))));
    return {
      add: (key, delta) => (direct ? direct.add(key, delta) : store().then((s) => s.add(key, delta))),
      get: (key) => (direct ? direct.get(key) : store().then((s) => s.get(key))),
      set: (key, value) => (direct ? direct.set(key, value) : store().then((s) => s.set(key, value))),
    };
  },
  unload(slot) {
    files.delete(slot);
    stores.delete(slot);
    waiting.delete(slot);
  },
  slotOf(stack) {
    for (const [slot, file] of files) if (stack.includes(file)) return slot;
    return 0;
  },
};
startGuest(
  end,
  () => {
    throw new Error("a packed worker has no ctx.shared of its own");
  },
  loader,
);
