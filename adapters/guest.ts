/**
 * The runtime-specific pieces a guest (the code inside a worker or child) needs: its
 * transport to the host, its environment, its request scope and error hooks. Node, Bun and Deno
 * all provide these node:* modules; feature detection covers the rest.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { setImmediate } from "node:timers";
import { format } from "node:util";
import { parentPort, workerData } from "node:worker_threads";
import { decodeFrame, encodeFrame } from "./frame-codec.ts";
import { ipcBatcher, ipcUnbatch, threadBatcher, threadUnbatch } from "./batch.ts";

export interface GuestPort {
  post(frame: unknown, transfer?: ArrayBuffer[]): void;
  onFrame(listener: (frame: any) => void): void;
  /** Send a last frame, then end this instance with `code` once the frame is on its way. */
  exitAfter(frame: unknown, code: number): void;
}

/** A worker thread's port: frames are posted as they are, ArrayBuffer bodies transferred. */
export function workerPort(): GuestPort {
  const port = parentPort;
  if (!port) throw new Error("lanes guest: not running in a worker thread");
  const batch = threadBatcher((m, transfer) => port.postMessage(m, transfer));
  return {
    post: (frame) => batch.post(frame),
    onFrame(listener) {
      const each = needsMacrotask ? batched(listener) : listener;
      port.on("message", (m) => threadUnbatch(m, each));
    },
    exitAfter(frame, code) {
      // a message posted before process.exit() in a worker is still delivered (measured on all 3)
      batch.post(frame);
      batch.flush();
      process.exit(code);
    },
  };
}

/**
 * Deno: a worker that runs out of memory while inside a 'message' handler (or a microtask it
 * queued) hangs at its heap limit instead of ending with ERR_WORKER_OUT_OF_MEMORY; the same
 * code run from a macrotask ends as it should (measured, Deno 2.9.6). So a Deno worker handles
 * its frames from setImmediate, all that arrived in one batch, in order.
 */
const needsMacrotask = "Deno" in globalThis;

function batched<T>(listener: (frame: T) => void): (frame: T) => void {
  let pending: T[] = [];
  const flush = () => {
    const batch = pending;
    pending = [];
    for (const f of batch) listener(f);
  };
  return (frame) => {
    if (pending.push(frame) === 1) setImmediate(flush);
  };
}

/** A child process's IPC channel (JSON): bodies as base64. */
export function childPort(): GuestPort {
  const send = process.send?.bind(process);
  if (!send) throw new Error("lanes guest: started without an IPC channel");
  // The host is gone (crashed or killed): never outlive it as an orphan.
  process.on("disconnect", () => process.exit(0));
  // The host decides when a child stops: at shutdown only once its ctx.waitUntil work is done
  // or the grace ran out. A Ctrl-C signals the whole process group, children included.
  process.on("SIGINT", () => {});
  process.on("SIGTERM", () => {});
  const batch = ipcBatcher((m) => void send(m as object, undefined, undefined, () => {}));
  return {
    post: (frame) => batch.post(encodeFrame(frame as { t: string })),
    onFrame: (listener) => void process.on("message", (m) => ipcUnbatch(m, (f) => listener(decodeFrame(f as { t: string })))),
    exitAfter(frame, code) {
      batch.flush();
      // IPC sends are asynchronous: exit once this one is flushed (or soon, if it never is)
      const exit = () => process.exit(code);
      setTimeout(exit, 200);
      send(encodeFrame(frame as { t: string }) as object, undefined, undefined, exit);
    },
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

/**
 * AsyncLocalStorage on Node 20 installs promise hooks that tax every promise in the guest, so
 * the request scope stays a plain variable (which holds for synchronous logging) until the
 * function first logs; from then on each request runs in an AsyncLocalStorage scope.
 */
let scoped = false;
let syncRequestId: string | undefined;

/** Run `fn` with `requestId` as the current request, for console capture. */
export function inRequest<T>(requestId: string, fn: () => T): T {
  if (scoped) return scope.run(requestId, fn);
  syncRequestId = requestId;
  try {
    return fn();
  } finally {
    syncRequestId = undefined;
  }
}

export function currentRequestId(): string | undefined {
  if (!scoped) {
    scoped = true;
    return syncRequestId;
  }
  return scope.getStore();
}

export const formatArgs = (args: unknown[]): string => format(...args);

export function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}

/**
 * An unhandled rejection inside a function is logged, not fatal (Node's default would kill the
 * instance and every request on it). Node and Bun report it through process.on; a Deno worker
 * only through the web `unhandledrejection` event (measured). Both are hooked, and each promise
 * is reported once.
 */
export function onUnhandledRejection(listener: (reason: unknown) => void): void {
  const seen = new WeakSet<object>();
  const report = (reason: unknown, promise: unknown) => {
    if (typeof promise === "object" && promise !== null) {
      if (seen.has(promise)) return;
      seen.add(promise);
    }
    listener(reason);
  };
  process.on("unhandledRejection", report);
  (globalThis as { addEventListener?: (t: string, l: (e: PromiseRejectionEvent) => void) => void }).addEventListener?.(
    "unhandledrejection",
    (e) => {
      e.preventDefault();
      report(e.reason, e.promise);
    },
  );
}

/**
 * An exception nobody catches (thrown in a timer, outside any request). The instance cannot be
 * trusted after it, so the listener reports it and ends the instance; hooking it makes that the
 * same on every runtime and lets the host name the error instead of "exited with code 1".
 */
export function onUncaughtException(listener: (error: unknown) => void): void {
  process.on("uncaughtException", listener);
}
