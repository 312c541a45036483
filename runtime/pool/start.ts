/** Starting an instance: how long it may take, and one more try for a guest that never answered. */
import type { LoadSpec } from "../channel/control.ts";
import { LanesError } from "../errors.ts";
import type { Instance } from "./instance.ts";

const START_TIMEOUT_MS = 15_000;
/** How long a guest may take to say it is up, before its function is loaded. */
export const BOOT_TIMEOUT_MS = 5000;

/** Starts that timed out (the guest never answered), as opposed to guests that crashed. */
const hung = new WeakSet<LanesError>();
const startHung = (e: LanesError): boolean => hung.has(e);

/** A promise that rejects after `ms` with a hung start (`message`), and a cancel for its timer. */
export function hangAfter(ms: number, message: string): { hung: Promise<never>; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const e = new LanesError("unavailable", message);
      hung.add(e);
      reject(e);
    }, ms);
  });
  promise.catch(() => {}); // raced, never awaited alone
  return { hung: promise, cancel: () => clearTimeout(timer) };
}

/** A start may take the function's timeout, at least 5 s and at most 15 s. */
export function startTimeout(functionTimeoutMs: number): number {
  return Math.min(START_TIMEOUT_MS, Math.max(functionTimeoutMs, 5000));
}

/**
 * Start an instance made by `make`, and return it. A guest that never answered its start (a thread or child that
 * never ran its code, on a starved machine) gets one more try when `again` allows it; one that
 * crashed does not.
 */
export async function startInstance(make: () => Instance, load: LoadSpec, timeoutMs: number, again: () => boolean, warn: (text: string) => void): Promise<Instance> {
  let inst = make();
  try {
    await inst.start(load, timeoutMs);
  } catch (e) {
    if (!(e instanceof LanesError && startHung(e) && again())) throw e;
    warn(`${e.message}; trying once more`);
    inst = make();
    await inst.start(load, timeoutMs);
  }
  return inst;
}
