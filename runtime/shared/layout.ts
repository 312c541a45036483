/**
 * The shared store's buffer layout, its limits, and its errors: what the store (store.ts), its
 * views (memory.ts), its mutex (mutex.ts) and its users share.
 *
 * Buffer layout (C = table capacity, a power of two >= 2 * slots, so probes always end):
 *   [0, 64)                 header: Int32 x 16, fields H_* below (magic, sizes, lock, allocator)
 *   [64, 64 + 8C)           counters: BigInt64 x C, one per table entry, changed only by Atomics.add
 *   [.., + 16C)             value refs: 64 bits x 2C, (length, offset) as Int32 x 2 per entry per space
 *   [.., + 16C)             table: Int32 x 4 per entry: state, hash, keyOff, keyLen
 *   [.., + 2 * bytes)       arena: two spaces of `bytes`. Keys bump up from 0 in space 0 and never
 *                           move; string values are packed down from the end of the current space.
 */
export interface SharedStoreOptions {
  /** Maximum number of distinct keys (default 1024). */
  slots?: number;
  /** Bytes for UTF-8 keys and string values together (default 256 KiB; the buffer holds twice this). */
  bytes?: number;
  /** How long the creator's lock() may wait before shared_busy (default LOCK_TIMEOUT_MS). */
  lockTimeoutMs?: number;
}

/** A worker's identity at a store: made by the creator with seat(), passed in workerData. */
export interface SharedSeat {
  owner: number;
  /** Int32 x 1, set by recoverFrom(): the owner may no longer take the lock. */
  fence: SharedArrayBuffer;
}

export interface AttachOptions {
  /** This thread's seat, from the creator's seat(); without it the attachment gets a fresh owner id. */
  seat?: SharedSeat;
  /** How long lock() may wait before shared_busy (default LOCK_TIMEOUT_MS). */
  lockTimeoutMs?: number;
}

/** shared_busy: the lock could not be taken in time, or the host closed this instance's seat. */
export type SharedStoreErrorCode = "shared_full" | "shared_type" | "shared_key" | "shared_busy";

export class SharedStoreError extends Error {
  override readonly name = "SharedStoreError";
  readonly code: SharedStoreErrorCode;
  constructor(code: SharedStoreErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export const MAGIC = 0x4c4e5353; // "LNSS"
export const VERSION = 2;
export const HEADER_BYTES = 64;
// Header fields. H_LOCK is the mutex word; KEYS..VAL_LIVE change only while it is held and are
// recomputable hints; H_SPACE is the space the refs in use point into (flipped by compaction).
export const H_MAGIC = 0,
  H_VERSION = 1,
  H_SLOTS = 2,
  H_CAP = 3,
  H_BYTES = 4,
  H_LOCK = 5;
export const H_KEYS = 6,
  H_KEY_TOP = 7,
  H_VAL_BOTTOM = 8,
  H_VAL_LIVE = 9,
  H_SPACE = 10;
// H_OWNERS: the last owner id handed out. H_ABANDONED: an owner reported gone while holding the
// lock; H_ABANDONED_AT: when (Date.now() | 0) its lock may be taken over.
export const H_OWNERS = 11,
  H_ABANDONED = 12,
  H_ABANDONED_AT = 13;
// Table entry fields. STATE is the publish flag; hash and key never change once it is set.
export const STRIDE = 4;
export const S_STATE = 0,
  S_HASH = 1,
  S_KEY_OFF = 2,
  S_KEY_LEN = 3;
export const EMPTY = 0,
  COUNTER = 1,
  STRING = 2;
export type Kind = typeof COUNTER | typeof STRING;
export const ENTRY_BYTES = 8 + 16 + STRIDE * 4;

export const MAX_KEY_BYTES = 256;
export const MAX_SLOTS = 1 << 20;
export const MAX_BYTES = 1 << 30;
// Lock word: 0 free, else the holder's owner id, plus WAITERS when someone may sleep on it.
export const WAITERS = 1 << 30;
export const OWNER = WAITERS - 1;
export const CREATOR = 1;
// Lock holds are microseconds; a holder that died never unlocks, and waiting for the host to
// report it gone is bounded by the caller's lockTimeoutMs (shared_busy after that).
export const SPINS = 64;
export const WAIT_SLICE_MS = 2;
export const LOCK_TIMEOUT_MS = 2000;
/** How long a terminated worker that may still run gets to leave its critical section. */
export const ZOMBIE_GRACE_MS = 100;

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();
export const LONE_SURROGATE = /\p{Cs}/u;
// Builds a ref's 64 bits from its two Int32 halves in the platform's byte order, as refs32 reads them.
export const refScratch = new BigInt64Array(1);
export const refScratch32 = new Int32Array(refScratch.buffer);

export function keyBytes(key: unknown): Uint8Array {
  // A UTF-16 length over the limit is over it in UTF-8 too, so huge keys are never encoded.
  if (typeof key === "string" && key.length > 0 && key.length <= MAX_KEY_BYTES && !LONE_SURROGATE.test(key)) {
    const kb = encoder.encode(key);
    if (kb.length <= MAX_KEY_BYTES) return kb;
  }
  throw new SharedStoreError("shared_key", `ctx.shared key must be a non-empty string of at most ${MAX_KEY_BYTES} UTF-8 bytes, got ${show(key)}`);
}

/** add()'s delta, refused as the store refuses it, wherever the call is checked. */
export function checkDelta(key: unknown, delta: unknown): void {
  if (!Number.isSafeInteger(delta)) {
    throw new SharedStoreError("shared_type", `ctx.shared.add(${show(key)}, ${String(delta)}): delta must be a safe integer`);
  }
}

/** set()'s value, refused as the store refuses it, wherever the call is checked. */
export function checkValue(key: unknown, value: unknown): void {
  if (typeof value !== "string") {
    throw new SharedStoreError("shared_type", `ctx.shared.set(${show(key)}, …): value must be a string, got ${typeof value}`);
  }
}

/** FNV-1a, 32 bits. */
export function hash(kb: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of kb) h = Math.imul(h ^ b, 0x01000193);
  return h | 0;
}

export function closed(): SharedStoreError {
  return new SharedStoreError("shared_busy", "ctx.shared is closed to this instance: the host stopped it");
}

export function mismatch(key: string, op: "add" | "set" | "get"): SharedStoreError {
  const holds = op === "add" ? "a string" : "a counter";
  const hint = op === "add" ? "use get/set" : "use add(key, delta), or add(key, 0) to read it";
  return new SharedStoreError("shared_type", `ctx.shared key ${show(key)} holds ${holds}, so ${op}() cannot be used on it; ${hint}`);
}

export function show(v: unknown): string {
  if (typeof v !== "string") return typeof v;
  return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) + (v.length > 40 ? ` (${v.length} chars)` : "");
}
