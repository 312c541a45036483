/**
 * What a packed worker gets besides its channel: its workerData, and each function's ctx.shared
 * store, on the worker's port, when the function first uses ctx.shared (a store is a
 * SharedArrayBuffer of about 600 KB, which Node commits when it is made: most functions never
 * use theirs, and a host of a thousand functions should not pay for a thousand stores).
 */
import type { RingReads, WakeBy } from "../channel/ring-end.ts";
import type { SharedSeat } from "../shared/store.ts";

export interface PackedGuestData {
  channel: SharedArrayBuffer;
  wakeBy: WakeBy;
  reads: RingReads;
}

/** Packed worker → host: the function in `slot` uses ctx.shared; send its store. */
export interface StoreWanted {
  lanesStoreWanted: true;
  slot: number;
}

export function isStoreWanted(m: unknown): m is StoreWanted {
  return typeof m === "object" && m !== null && (m as { lanesStoreWanted?: unknown }).lanesStoreWanted === true;
}

/** Host → packed worker: the store of the function in `slot`. */
export interface StoreMessage {
  lanesStore: true;
  slot: number;
  buffer: SharedArrayBuffer;
  seat: SharedSeat;
}

export function isStoreMessage(m: unknown): m is StoreMessage {
  return typeof m === "object" && m !== null && (m as { lanesStore?: unknown }).lanesStore === true;
}
