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
  formatArgs,
  heapUsed,
  importModule,
  inRequest,
  requestMaker,
  installFastResponse,
  memoryAfterCollection,
  memoryInUse,
  noteWorkerMemory,
  onUncaughtException,
  onUnhandledRejection,
  scrubEnv,
} from "../../adapters/guest.ts";
import type { Context } from "../api.ts";
import type { RequestInit2 } from "../../adapters/undici.ts";
import type { GuestControl, LoadSpec } from "../channel/control.ts";
import type { GuestEnd } from "../channel/end.ts";
import { PING_COLLECT, type GuestToHost, type HostToGuest, type LogLevel, type RequestFrame } from "../channel/frames.ts";
import { rpcChannel, type RpcChannel } from "../channel/rpc.ts";
import { IdTable } from "../id-table.ts";
import { resolveHandler, sendable, type FetchHandler } from "./handler.ts";
import { flushSoon, readAtOnce, sendResponse } from "./respond.ts";
import { captureConsole, ConsoleBudget } from "./console-capture.ts";
import { asError } from "./as-error.ts";
import { Call, traceparentOf } from "./call.ts";
import { collectFetchListeners, fetchListenerSink } from "./service-worker.ts";
import { giveStringBodiesTheirStandardType } from "./text-default-type.ts";
import { ctxSharedOf, type CtxShared } from "./shared-client.ts";

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
  shared: CtxShared;
}

export function startGuest(end: GuestEnd, sharedFor: (post: (f: GuestToHost) => void) => GuestShared, packed?: PackedLoader) {
  installFastResponse(); // before the function's module loads (Node: adapters/undici-response.ts)
  giveStringBodiesTheirStandardType(); // before the function's module loads
  // memory the runtime leaves out of a worker's figures, noted as the function makes it (adapters/off-heap.ts)
  if (!packed) noteWorkerMemory();
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
  const cancels = new IdTable<Call>();
  /** ctx.waitUntil work still running, by a number of its own. */
  const pending = new IdTable<Promise<unknown>>();
  /** Who waits for no request to be in flight (`drain`; `cancels` holds those in flight). */
  let idle: (() => void)[] = [];
  let pendingSeq = 0;
  // an answer leaves before the function's code runs on, not at the end of the turn (respond.ts)
  const sendAnswers = flushSoon(end);
  /** ctx.waitUntil work still running: the request it came from (for the stop log). */
  const waitUntil = new IdTable<string>();
  const shared = packed ? undefined : sharedFor(post);
  const rpcs = new Map<number, RpcChannel>();
  /** Each function's lines to the host, within their budget: by slot (0 unless packed). */
  const budgets = new Map<number, ConsoleBudget>();
  const budgetOf = (slot: number): ConsoleBudget => {
    let b = budgets.get(slot);
    if (!b) budgets.set(slot, (b = new ConsoleBudget((f) => post(f, slot))));
    return b;
  };

  captureConsole(budgetOf(0));
  onUnhandledRejection((reason) => budgetOf(0).line("error", () => `unhandled rejection: ${formatArgs([reason])}`, currentRequestId()));
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
          const log = (level: LogLevel, text: string) => budgetOf(slot).line(level, () => text, currentRequestId());
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
      budgets.delete(which);
      packed.unload(which);
      for (const [key, call] of cancels.entries()) if (Math.floor(key / 2 ** 32) === which) call.cancel();
    },
    async stats() {
      return { inflight: cancels.size, handled, heapUsed: heapUsed(), waitUntil: waitUntil.entries().map((e) => e[1]) };
    },
    async drain() {
      while (cancels.size > 0 || pending.size > 0) {
        if (cancels.size > 0) await new Promise<void>((r) => idle.push(r));
        else await Promise.allSettled(pending.values());
      }
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

  // the host sent garbage: nothing it sends can be trusted
  end.onBroken(() => {
    ending = true;
    exitNow(1);
  });
  end.onFrame((f: HostToGuest, slot: number) => {
    switch (f.t) {
      case "req":
        if (!ending) handle(f, slot); // else the host answers it 502 once it hears of the end
        break;
      case "cancel":
      case "ack":
        cancels.get(slot * 2 ** 32 + f.id)?.[f.t]();
        break;
      case "ping":
        // the watchdog judges memory without garbage
        post({ t: "pong", id: f.id, ...(f.id === PING_COLLECT ? memoryAfterCollection() : memoryInUse()) }, slot);
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

  /** Keeps ctx.waitUntil work among the pending until it settles, with the request it came from. */
  function track(p: Promise<unknown>, requestId: string): void {
    const key = ++pendingSeq;
    pending.set(key, p);
    waitUntil.set(key, requestId);
    void p.finally(() => {
      pending.delete(key);
      waitUntil.delete(key);
    });
  }

  /**
   * Calls the function and sends its answer. A function that answers at once with a Response
   * whose parts can be read directly is answered in the same turn, without a promise.
   */
  function handle(f: RequestFrame, slot: number): void {
    const key = slot * 2 ** 32 + f.id;
    const call = new Call(f);
    cancels.set(key, call);
    let out: unknown;
    try {
      const fnOf = loaded.get(slot);
      if (!fnOf) throw new Error("function not loaded");
      const { spec, handler } = fnOf;
      const ctx: Context = {
        requestId: f.requestId,
        lane: spec.lane,
        params: f.params,
        traceparent: traceparentOf(f.headers),
        shared: fnOf.shared,
        waitUntil: (p: Promise<unknown>) => {
          const work = Promise.resolve(p).catch((e) => budgetOf(slot).line("error", () => `waitUntil rejected: ${formatArgs([e])}`, f.requestId));
          track(work, f.requestId);
        },
        passThroughOnException,
      };
      out = inRequest(f.requestId, handler, makeRequest(call), { ...spec.env }, ctx);
      if (typeof (out as PromiseLike<unknown> | undefined)?.then === "function") {
        Promise.resolve(out).then(
          (value) => answer(f, slot, key, call, value),
          (e) => failed(f, slot, key, e),
        );
        return;
      }
    } catch (e) {
      return failed(f, slot, key, e);
    }
    answer(f, slot, key, call, out);
  }

  function answer(f: RequestFrame, slot: number, key: number, call: Call, value: unknown): void {
    let res: Response;
    try {
      res = sendable(value);
      const light = readAtOnce(res);
      if (light) {
        post({ t: "res", id: f.id, status: light.status, statusText: light.statusText, headers: light.headers, body: light.body, more: false }, slot);
        return done(key);
      }
    } catch (e) {
      return failed(f, slot, key, e);
    }
    sendResponse(
      res,
      {
        head: (status, statusText, headers, body, more, lent) => end.send({ t: "res", id: f.id, status, statusText, headers, body, more }, slot, lent),
        chunk: (body) => end.send({ t: "chunk", id: f.id, body }, slot, true),
        room: () => end.room?.(),
        end: (error) => post(error === undefined ? { t: "end", id: f.id } : { t: "end", id: f.id, error }, slot),
      },
      (cancel) => (call.cancelBody = cancel),
      call.window,
    ).then(
      () => done(key),
      (e) => failed(f, slot, key, e),
    );
  }

  function failed(f: RequestFrame, slot: number, key: number, e: unknown): void {
    const err = asError(e);
    post({ t: "err", id: f.id, message: err.message, stack: err.stack ?? err.message }, slot);
    done(key);
  }

  function done(key: number): void {
    handled++;
    cancels.delete(key);
    sendAnswers();
    if (cancels.size === 0 && idle.length > 0) {
      const waiting = idle;
      idle = [];
      for (const r of waiting) r();
    }
  }
}

function passThroughOnException(): void {}
