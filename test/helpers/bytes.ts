/** Large bodies to send, and byte-for-byte comparisons of them: uvu's diff of arrays this large takes minutes. */
import * as assert from "uvu/assert";

/** The first index where the two differ (the shorter one's length if one is a prefix), or -1. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.byteLength, b.byteLength);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.byteLength === b.byteLength ? -1 : n;
}

export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => firstDifference(a, b) < 0;

/** Fails with the lengths and where the bytes first differ. */
export function assertSameBytes(got: Uint8Array, want: Uint8Array, what = "the bytes"): void {
  const at = firstDifference(got, want);
  if (at >= 0) assert.unreachable(`${what}: ${got.byteLength} bytes against ${want.byteLength}, first difference at ${at}`);
}

/** `n` bytes of `(i * step + seed) % mod`: bodies told apart by their seed, their pattern not a whole number of pages. */
export function patterned(n: number, seed = 0, step = 31, mod = 256): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * step + seed) % mod);
}
