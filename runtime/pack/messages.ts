/** What a packed worker gets besides its channel: its workerData, and each function's ctx.shared store. */
import type { WakeBy } from "../channel/ring-end.ts";
import type { SharedSeat } from "../shared/store.ts";

export interface PackedGuestData {
  channel: SharedArrayBuffer;
  wakeBy: WakeBy;
}

/** Host → packed worker, on the worker's port, before a function is loaded into `slot`. */
export interface StoreMessage {
  lanesStore: true;
  slot: number;
  buffer: SharedArrayBuffer;
  seat: SharedSeat;
}

export function isStoreMessage(m: unknown): m is StoreMessage {
  return typeof m === "object" && m !== null && (m as { lanesStore?: unknown }).lanesStore === true;
}
