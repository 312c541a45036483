/**
 * The runtime-specific pieces a guest (the code inside a worker or child) needs: its
 * transport to the host, its environment, its request scope and error hooks. Node, Bun and Deno
 * all provide these node:* modules; feature detection covers the rest.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { setImmediate } from "node:timers";
import { format } from "node:util";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import type { PostPort } from "../runtime/channel/ring-end.ts";
import { checked, lazyRequests, platformRequest, wholeBody, type RequestInit2 } from "./undici.ts";
import { bunLazyRequests } from "./bun-request.ts";
import { lightParts as nodeLightParts, lightResponseClass } from "./undici-response.ts";
import { denoParts, enableDenoParts } from "./deno-response.ts";
import type { ResponseParts } from "./response-parts.ts";
import { noteStaticBodies, staticBody } from "./static-body.ts";
import { childWritesDone } from "./child-pipe.ts";
import { within } from "../runtime/within.ts";
import { collectGarbage } from "./gc.ts";
import { noteUncountedMemory, uncountedBytes } from "./off-heap.ts";

let importer = (url: string): Promise<Record<string, unknown>> => import(url);

/** Import the function's module (a child restored from a startup snapshot imports another way: child-snapshot-main.ts). */
export function importModule(url: string): Promise<Record<string, unknown>> {
  return importer(url);
}

export function setModuleImporter(f: (url: string) => Promise<Record<string, unknown>>): void {
  importer = f;
}

/** A worker thread's message port, for what travels beside the ring (large bodies). */
export function workerPostPort(): PostPort {
  const port = parentPort;
  if (!port) throw new Error("lanes guest: not running in a worker thread");
  return {
    post: (m, transfer) => port.postMessage(m, transfer),
    onMessage: (l) => void port.on("message", l),
  };
}

/**
 * Deno: a worker that runs out of memory while inside a 'message' handler or a microtask hangs
 * at its heap limit instead of ending with ERR_WORKER_OUT_OF_MEMORY; from a macrotask it ends
 * as it should (README.md in this folder, Workers). So a Deno worker reads its frames from a macrotask.
 */
export function workerReadScheduler(): ((drain: () => void) => void) | undefined {
  return "Deno" in globalThis ? (drain) => void setImmediate(drain) : undefined;
}

/** Run `fn` at the end of this turn of the event loop. */
export function schedule(fn: () => void): void {
  setImmediate(fn);
}

export { childPipe } from "./child-pipe.ts";

/**
 * A child stops when the host says so (at shutdown, only once its ctx.waitUntil work is done or
 * the grace ran out) or when the host is gone (its stdin ends). A Ctrl-C signals the whole
 * process group, children included: they leave it to the host.
 */
export function leaveStopSignalsToHost(): void {
  process.on("SIGINT", () => {});
  process.on("SIGTERM", () => {});
}

/**
 * End this instance once its last frame has been written: at once, or when a process-lane
 * child's writes that could not be made at once are done (child-pipe.ts), within 5 s (a host
 * that stopped reading).
 */
export function exitNow(code: number): void {
  const writes = childWritesDone();
  if (!writes) process.exit(code);
  void within(writes, 5000).then(() => process.exit(code));
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
      // Bun.env cannot be replaced: it keeps the environment the process started with, which
      // for a warm spare is empty (runtime/lanes/spares.ts), so it is made to hold `env` in place;
      // only in a child process: a worker's would be its host's whole environment
      if (!isMainThread) return;
      const own = g.Bun.env as Record<string, string>;
      for (const k of Object.keys(own)) if (!(k in copy)) delete own[k];
      Object.assign(own, copy);
    }
  }
}

/** A warm spare taking a function: its working directory becomes the function's folder. */
export function changeDir(dir: string): void {
  process.chdir(dir);
}

const scope = new AsyncLocalStorage<string>();

/**
 * AsyncLocalStorage on Node 20 installs promise hooks that tax every promise in the guest, so
 * the request scope stays a plain variable (which holds for synchronous logging) until the
 * function first logs; from then on each request runs in an AsyncLocalStorage scope.
 */
let scoped = false;
let syncRequestId: string | undefined;

/**
 * Call `fn(request, env, ctx)` with `requestId` as the current request, for console capture. The
 * arguments are passed through rather than closed over: one closure less per request.
 */
export function inRequest<A, B, C, T>(requestId: string, fn: (a: A, b: B, c: C) => T, a: A, b: B, c: C): T {
  if (scoped) return scope.run(requestId, fn, a, b, c);
  syncRequestId = requestId;
  try {
    return fn(a, b, c);
  } finally {
    syncRequestId = undefined;
  }
}

export function currentRequestId(): string | undefined {
  if (!scoped) {
    scoped = true;
    return syncRequestId;
  }
  // the request that logged first is still in its synchronous part, outside any scope
  return scope.getStore() ?? syncRequestId;
}

export const formatArgs = (args: unknown[]): string => format(...args);

export function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}

/**
 * This isolate's heap and the memory its ArrayBuffers hold outside the heap. In a worker, Node
 * and Deno report both for the worker's own isolate, and the guest adds what they leave out
 * (off-heap.ts); Bun reports only part of the ArrayBuffers (README.md in this folder, Workers).
 */
export function memoryInUse(): { heap: number; external: number } {
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external + uncountedBytes() };
}

/** In an isolate-lane worker, before the function's module loads: see off-heap.ts. */
export function noteWorkerMemory(): void {
  if (!isMainThread) noteUncountedMemory();
}

/**
 * The same after a full collection, for the memory watchdog's deciding reading. Node 20's V8
 * takes the ArrayBuffers a collection frees out of `external` only at the next collection, so
 * one collection left the garbage in the figure and an isolate was stopped for it; Node
 * collects twice (about 4 ms each; README.md in this folder, Memory). Deno's figure is right after one.
 */
export function memoryAfterCollection(): { heap: number; external: number } {
  collectGarbage();
  if (onNode) collectGarbage();
  return memoryInUse();
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
  (globalThis as { addEventListener?: (t: string, l: (e: PromiseRejectionEvent) => void) => void }).addEventListener?.("unhandledrejection", (e) => {
    e.preventDefault();
    report(e.reason, e.promise);
  });
}

/**
 * An exception nobody catches (thrown in a timer, outside any request). The instance cannot be
 * trusted after it, so the listener reports it and ends the instance; hooking it makes that the
 * same on every runtime and lets the host name the error instead of "exited with code 1".
 */
export function onUncaughtException(listener: (error: unknown) => void): void {
  process.on("uncaughtException", listener);
}

/**
 * How the guest builds the function's Request: only when the function touches more than its
 * method, url and signal, whose signal is the guest's own (Node and Deno: undici.ts; Bun:
 * bun-request.ts, which installs its global `Request` and `fetch` here, before the function's
 * module loads). Each is checked against the platform's on a sample first, and the platform's
 * `new Request` is used if it differs. Deno's Response reader (deno-response.ts) checks itself
 * here too, before the first request.
 */
export async function requestMaker(): Promise<(init: RequestInit2) => Request> {
  const lazyBun = onBun ? bunLazyRequests() : undefined;
  const native = (i: RequestInit2) => platformRequest(i);
  if (lazyBun) return (await checked(lazyBun).catch(() => undefined)) ?? native;
  if (!onNode) await enableDenoParts();
  return (await lazyRequests()) ?? native;
}

/** A Response's bytes without its stream, when its body is a string or bytes (Node: undici.ts; Bun: static-body.ts). */
export function takeWholeBody(res: Response): Uint8Array | null | Promise<Uint8Array> | undefined {
  return onNode ? wholeBody(res) : onBun ? staticBody(res) : undefined;
}

/**
 * Before the function's module loads, so every Response it makes is one: Node's `Response` builds
 * undici's only when it has to (undici-response.ts); Bun's notes a body made of bytes (static-body.ts).
 */
export function installFastResponse(): void {
  if (onNode) globalThis.Response = lightResponseClass(Response);
  else if (onBun) noteStaticBodies();
}

/** A Response's parts without reading its stream (Node: made by that class; Deno: deno-response.ts), else undefined. */
export function lightParts(res: Response): ResponseParts | undefined {
  return onNode ? nodeLightParts(res) : onBun ? undefined : denoParts(res);
}

/**
 * A chunk of a Response's body stream as the bytes the runtime's own server would send, else a
 * TypeError. Node and Deno take a Uint8Array only, as the Fetch standard says (`arrayBuffer()`
 * of such a stream: "Received non-Uint8Array chunk", "Cannot convert value to Uint8Array"); Bun
 * also takes a string (sent as UTF-8), an ArrayBuffer or any other view (measured, Bun 1.4.5).
 * Checked by tag, not `instanceof`: a packed function's context has classes of its own.
 */
export function chunkBytes(chunk: unknown): Uint8Array {
  const tag = ArrayBuffer.isView(chunk) ? (chunk as Uint8Array)[Symbol.toStringTag] : undefined;
  if (tag === "Uint8Array") return chunk as Uint8Array;
  if (onBun) {
    if (typeof chunk === "string") return new TextEncoder().encode(chunk);
    if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (Object.prototype.toString.call(chunk) === "[object ArrayBuffer]") return new Uint8Array(chunk as ArrayBuffer);
  }
  const got = chunk === null ? "null" : typeof chunk === "object" ? ((chunk as object).constructor?.name ?? "object") : typeof chunk;
  throw new TypeError(`a Response body stream must yield Uint8Array chunks${onBun ? " (on Bun also strings, ArrayBuffers and other views)" : ""} (got ${got})`);
}

const onBun = "Bun" in globalThis;
const onNode = !onBun && !("Deno" in globalThis);
