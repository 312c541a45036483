/**
 * The runtime-specific pieces a guest (the code inside a worker or child) needs: its
 * transport to the host, its environment, its request scope and error hooks. Node, Bun and Deno
 * all provide these node:* modules; feature detection covers the rest.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { format } from "node:util";
import { parentPort, workerData } from "node:worker_threads";
import { decodeFrame, encodeFrame } from "./frame-codec.ts";

export interface GuestPort {
  post(frame: unknown, transfer?: ArrayBuffer[]): void;
  onFrame(listener: (frame: any) => void): void;
}

/** A worker thread's port: frames are posted as they are, ArrayBuffer bodies transferred. */
export function workerPort(): GuestPort {
  const port = parentPort;
  if (!port) throw new Error("lanes guest: not running in a worker thread");
  return {
    post: (frame, transfer) => port.postMessage(frame, transfer ?? []),
    onFrame: (listener) => void port.on("message", listener),
  };
}

/** A child process's IPC channel (JSON): bodies as base64. */
export function childPort(): GuestPort {
  const send = process.send?.bind(process);
  if (!send) throw new Error("lanes guest: started without an IPC channel");
  // The host is gone (crashed or killed): never outlive it as an orphan.
  process.on("disconnect", () => process.exit(0));
  return {
    post: (frame) => void send(encodeFrame(frame as { t: string }) as object, undefined, undefined, () => {}),
    onFrame: (listener) => void process.on("message", (m) => listener(decodeFrame(m as { t: string }))),
  };
}

export function guestData(): unknown {
  return workerData;
}

/**
 * Make the function see exactly `env`: process.env, Bun.env and Deno.env. Workers already get
 * `env` from the host, children an explicit env; this also covers Deno.env, which in a worker
 * reads the host process's environment.
 */
export function scrubEnv(env: Record<string, string>): void {
  const copy = { ...env };
  process.env = copy;
  const g = globalThis as { Deno?: { env: Record<string, unknown> }; Bun?: { env: unknown } };
  if (g.Deno) {
    const denoEnv = g.Deno.env;
    denoEnv.get = (k: string) => copy[k];
    denoEnv.has = (k: string) => k in copy;
    denoEnv.toObject = () => ({ ...copy });
    denoEnv.set = (k: string, v: string) => void (copy[k] = v);
    denoEnv.delete = (k: string) => void delete copy[k];
  }
  if (g.Bun) {
    try {
      Object.defineProperty(g.Bun, "env", { value: copy, configurable: true });
    } catch {
      // Bun.env is the same object as process.env, already replaced above
    }
  }
}

const scope = new AsyncLocalStorage<string>();

/** Run `fn` with `requestId` as the current request, for console capture. */
export function inRequest<T>(requestId: string, fn: () => T): T {
  return scope.run(requestId, fn);
}

export function currentRequestId(): string | undefined {
  return scope.getStore();
}

export const formatArgs = (args: unknown[]): string => format(...args);

export function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}

/**
 * An unhandled rejection inside a function is logged, not fatal (Node's default would kill the
 * instance and every request on it). Uncaught exceptions still end the instance.
 */
export function onUnhandledRejection(listener: (reason: unknown) => void): void {
  process.on("unhandledRejection", listener);
  (globalThis as { addEventListener?: (t: string, l: (e: Event) => void) => void }).addEventListener?.(
    "unhandledrejection",
    (e) => {
      e.preventDefault();
    },
  );
}
