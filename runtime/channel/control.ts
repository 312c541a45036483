/**
 * The control API a guest exposes to the host over comlink (rpc frames): load a function,
 * report stats, drain. Requests never go through it: at 64 calls in flight comlink is 2-4x
 * slower than plain frames.
 */
export interface LoadSpec {
  name: string;
  lane: "isolate" | "process";
  /** file:// URL of the compiled ESM bundle. */
  bundleUrl: string;
  env: Record<string, string>;
  dev: boolean;
  /** A warm spare started elsewhere, without a sandbox: the function's folder, to change to first. */
  cwd?: string;
}

export interface GuestControl {
  load(spec: LoadSpec): Promise<void>;
  /** A packed worker's slot 0: forget the function in `slot` (its requests are cancelled). */
  unload(slot: number): Promise<void>;
  stats(): Promise<GuestStats>;
  /** Resolves when no request and no waitUntil promise is pending. */
  drain(): Promise<void>;
}

export interface GuestStats {
  inflight: number;
  handled: number;
  heapUsed: number;
  /** Request ids of the ctx.waitUntil promises still pending, one per promise. */
  waitUntil: string[];
}
