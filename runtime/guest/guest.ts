/**
 * The guest: what runs inside a worker thread or a child process. It loads one function
 * (control call `load`), turns request frames into web Requests, calls the function and sends
 * the Response back. Both lanes run this same code; only the port differs.
 *
 * A packed worker (runtime/pack/) runs the same code with `packed`: it holds one function per
 * slot from 1, each loaded in a context of its own, and its slot 0 is the worker's own control
 * (unload a slot). Frames carry their slot (runtime/channel/frames.ts).
 */
import { expose } from "comlink";
import {
  changeDir,
  currentRequestId,
  exitNow,
  collectGarbage,
  formatArgs,
  heapUsed,
  importModule,
  inRequest,
  requestMaker,
  installFastResponse,
  memoryInUse,
  onUncaughtException,
  onUnhandledRejection,
  scrubEnv,
} from "../../adapters/guest.ts";
import type { Context } from "../api.ts";
import type { RequestInit2 } from "../../adapters/undici.ts";
import type { GuestControl, LoadSpec } from "../channel/control.ts";
import type { GuestEnd } from "../channel/end.ts";
import { PING_COLLECT, type GuestToHost, type HeaderPairs, type HostToGuest, type LogFrame, type LogLevel, type RequestFrame } from "../channel/frames.ts";
import { rpcChannel, type RpcChannel } from "../channel/rpc.ts";
import { IdTable } from "../id-table.ts";
import { resolveHandler, sendable, type FetchHandler } from "./handler.ts";
import { sendResponse } from "./respond.ts";
import { collectFetchListeners, fetchListenerSink } from "./service-worker.ts";
import { giveStringBodiesTheirStandardType } from "./text-default-type.ts";

/** ctx.shared as the lane provides it; `deliver` takes host replies when it works over frames. */
export interface GuestShared {
  add(key: string, delta: number): Promise<number>;
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  deliver?(frame: HostToGuest): void;
}

/** How a packed worker loads its functions: each in a context of its own (adapters/guest-context.ts). */
export interface PackedLoader {
  /** The module's exports; `log` takes the lines of its own console; `globals`: more of its own. */
  load(spec: LoadSpec, slot: number, log: (level: LogLevel, text: string) => void, globals: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** ctx.shared of the function in `slot` (its store comes beside the channel). */
  shared(slot: number): Promise<GuestShared>;
  /** The function in `slot` is gone: forget its context and store. */
  unload(slot: number): void;
  /** The slot whose code a stack trace runs through, if any (to name who crashed the worker). */
  slotOf(stack: string): number;
}

interface Loaded {
  spec: LoadSpec;
  handler: FetchHandler;
  shared: { add(key: string, delta?: number): Promise<number>; get(key: string): Promise<string | undefined>; set(key: string, value: string): Promise<void> };
}

export function startGuest(end: GuestEnd, sharedFor: (post: (f: GuestToHost) => void) => GuestShared, packed?: PackedLoader) {
  installFastResponse(); // before the function's module loads (Node: adapters/undici-response.ts)
  giveStringBodiesTheirStandardType(); // before the function's module loads
  const post = (f: GuestToHost, slot = 0) => end.send(f, slot);
  const loaded = new Map<number, Loaded>();
  let makeRequest: (init: RequestInit2) => Request = () => {
    throw new Error("function not loaded");
  };
  // made now, while nothing waits: a warm spare has it ready before its function's first request
  const requestMakerReady = requestMaker();
  let handled = 0;
  // tables that take an entry per request are not Maps (runtime/id-table.ts says why)
  // by slot and request id: slot * 2^32 + id
  const cancels = new IdTable<() => void>();
  /** Requests and ctx.waitUntil work still running, by a number of their own. */
  const pending = new IdTable<Promise<unknown>>();
  let pendingSeq = 0;
  /** ctx.waitUntil work still running: the request it came from (for the stop log). */
  const waitUntil = new IdTable<string>();
  const shared = packed ? undefined : sharedFor(post);
  const rpcs = new Map<number, RpcChannel>();

  captureConsole(post);
  onUnhandledRejection((reason) => {
    post({ t: "log", level: "error", text: `unhandled rejection: ${formatArgs([reason])}`, ...rid() });
  });
  // set once the instance is ending: it may still be writing its last frames (exitNow), and takes no new request
  let ending = false;
  onUncaughtException((e) => {
    ending = true;
    const err = asError(e);
    // in a packed worker, the slot whose code threw is the one named (the host says who crashed it)
    post({ t: "fatal", message: `uncaught exception: ${err.message}`, stack: err.stack ?? err.message }, packed?.slotOf(err.stack ?? "") ?? 0);
    end.flush();
    exitNow(1);
  });

  const control = (slot: number): GuestControl => ({
    async load(s) {
      makeRequest = await requestMakerReady;
      if (packed) {
        if (slot === 0) throw new Error("slot 0 of a packed worker holds no function");
        try {
          // a service-worker-style module adds its fetch listener to its own context's global
          const g = globalThis as { addEventListener?: Parameters<typeof fetchListenerSink>[0] };
          const sw = fetchListenerSink(g.addEventListener?.bind(globalThis));
          const log = (level: LogLevel, text: string) => post({ t: "log", level, text, ...rid() }, slot);
          const mod = await packed.load(s, slot, log, { addEventListener: sw.addEventListener });
          loaded.set(slot, { spec: s, handler: resolveHandler(mod, s.name, sw.listeners), shared: ctxSharedOf(await packed.shared(slot)) });
        } catch (e) {
          packed.unload(slot);
          throw asError(e); // an error of the function's own realm does not cross comlink as an Error
        }
        return;
      }
      scrubEnv(s.env);
      if (s.cwd) changeDir(s.cwd);
      const fetchListeners = collectFetchListeners();
      const mod = await importModule(s.bundleUrl);
      loaded.set(0, { spec: s, handler: resolveHandler(mod, s.name, fetchListeners), shared: ctxSharedOf(shared!) });
    },
    async unload(which) {
      if (!packed || slot !== 0 || which === 0) return;
      loaded.delete(which);
      rpcs.delete(which);
      packed.unload(which);
      for (const [key, cancel] of cancels.entries()) if (Math.floor(key / 2 ** 32) === which) cancel();
    },
    async stats() {
      return { inflight: cancels.size, handled, heapUsed: heapUsed(), waitUntil: waitUntil.entries().map((e) => e[1]) };
    },
    async drain() {
      while (pending.size > 0) await Promise.allSettled(pending.values());
    },
  });
  const rpcOf = (slot: number): RpcChannel => {
    let rpc = rpcs.get(slot);
    if (!rpc) {
      rpc = rpcChannel((f) => post(f, slot));
      expose(control(slot), rpc.endpoint);
      rpcs.set(slot, rpc);
    }
    return rpc;
  };

  end.onBroken(() => ((ending = true), exitNow(1))); // the host sent garbage: nothing it sends can be trusted
  end.onFrame((f: HostToGuest, slot: number) => {
    switch (f.t) {
      case "req":
        if (!ending) track(handle(f, slot)); // else the host answers it 502 once it hears of the end
        break;
      case "cancel":
        cancels.get(slot * 2 ** 32 + f.id)?.();
        break;
      case "ping":
        if (f.id === PING_COLLECT) collectGarbage(); // the watchdog judges memory without garbage
        post({ t: "pong", id: f.id, ...memoryInUse() }, slot);
        break;
      case "rpc":
        rpcOf(slot).deliver(f);
        break;
      case "shared-reply":
        shared?.deliver?.(f);
        break;
    }
  });
  post({ t: "ready" });

  /** Keeps `p` among the pending until it settles (and, for ctx.waitUntil work, its request's id). */
  function track(p: Promise<unknown>, waitUntilOf?: string): void {
    const key = ++pendingSeq;
    pending.set(key, p);
    if (waitUntilOf !== undefined) waitUntil.set(key, waitUntilOf);
    void p.finally(() => {
      pending.delete(key);
      if (waitUntilOf !== undefined) waitUntil.delete(key);
    });
  }

  async function handle(f: RequestFrame, slot: number) {
    const key = slot * 2 ** 32 + f.id;
    // the host cancels a request when its client goes away (or its time runs out): the
    // function sees request.signal abort, as on workerd. The controller is made when the signal
    // is first asked for (on Node, most requests never ask: adapters/undici.ts).
    let client: AbortController | undefined;
    let cancelled: DOMException | undefined;
    const signal = () => {
      if (!client) {
        client = new AbortController();
        if (cancelled) client.abort(cancelled);
      }
      return client.signal;
    };
    const abort = () => {
      cancelled ??= new DOMException("the request was cancelled: its client went away or its time ran out", "AbortError");
      client?.abort(cancelled);
    };
    cancels.set(key, abort);
    const fnOf = loaded.get(slot);
    try {
      if (!fnOf) throw new Error("function not loaded");
      const { spec, handler } = fnOf;
      const request = makeRequest({
        url: f.url,
        method: f.method,
        headers: f.headers,
        body: f.body && f.method !== "GET" && f.method !== "HEAD" ? f.body : null,
        signal,
      });
      const ctx: Context = {
        requestId: f.requestId,
        lane: spec.lane,
        params: f.params,
        traceparent: traceparentOf(f.headers),
        shared: fnOf.shared,
        waitUntil: (p: Promise<unknown>) => {
          const work = Promise.resolve(p).catch((e) => post({ t: "log", level: "error", text: `waitUntil rejected: ${formatArgs([e])}`, requestId: f.requestId }, slot));
          track(work, f.requestId);
        },
        passThroughOnException() {},
      };
      const fn = handler;
      const env = { ...spec.env };
      let result: Response;
      try {
        result = sendable(await inRequest(f.requestId, () => fn(request, env, ctx)));
      } catch (e) {
        const err = asError(e);
        post({ t: "err", id: f.id, message: err.message, stack: err.stack ?? err.message }, slot);
        return;
      }
      await sendResponse(
        result,
        {
          head: (status, statusText, headers, body, more) => post({ t: "res", id: f.id, status, statusText, headers, body, more }, slot),
          chunk: (body) => post({ t: "chunk", id: f.id, body }, slot),
          end: (error) => post(error ? { t: "end", id: f.id, error } : { t: "end", id: f.id }, slot),
        },
        (cancel) =>
          cancels.set(key, () => {
            abort();
            cancel();
          }),
      );
    } catch (e) {
      const err = asError(e);
      post({ t: "err", id: f.id, message: err.message, stack: err.stack ?? err.message }, slot);
    } finally {
      handled++;
      cancels.delete(key);
    }
  }
}

function ctxSharedOf(shared: GuestShared): Loaded["shared"] {
  return {
    add: (key: string, delta = 1) => shared.add(key, delta),
    get: (key: string) => shared.get(key),
    set: (key: string, value: string) => shared.set(key, value),
  };
}

/**
 * An Error, also when `e` comes from another realm (a packed function's context has its own
 * Error class, so `instanceof Error` does not hold): its message and stack are kept.
 */
function asError(e: unknown): Error {
  if (e instanceof Error) return e;
  if (Object.prototype.toString.call(e) === "[object Error]") {
    const x = e as { name?: unknown; message?: unknown; stack?: unknown };
    const err = new Error(String(x.message ?? ""));
    err.name = String(x.name ?? "Error");
    err.stack = typeof x.stack === "string" ? x.stack : `${err.name}: ${err.message}`;
    return err;
  }
  return new Error(formatArgs([e]));
}

/** The host puts a valid traceparent in every request's headers (runtime/ops/trace.ts). */
function traceparentOf(headers: HeaderPairs): string {
  for (const [name, value] of headers) if (name.length === 11 && name.toLowerCase() === "traceparent") return value;
  return "";
}

function rid(): { requestId?: string } {
  const id = currentRequestId();
  return id ? { requestId: id } : {};
}

/** The function's console goes to the host log, tagged with the request it ran for. */
function captureConsole(post: (f: LogFrame) => void) {
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    console[level] = (...args: unknown[]) => post({ t: "log", level, text: formatArgs(args), ...rid() });
  }
}
