/**
 * The guest: what runs inside a worker thread or a child process. It loads one function
 * (control call `load`), turns request frames into web Requests, calls the function and sends
 * the Response back. Both lanes run this same code; only the port differs.
 */
import { expose } from "comlink";
import {
  currentRequestId,
  exitNow,
  formatArgs,
  heapUsed,
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
import type { GuestToHost, HeaderPairs, HostToGuest, LogFrame, RequestFrame } from "../channel/frames.ts";
import { rpcChannel } from "../channel/rpc.ts";
import { resolveHandler, sendable, type FetchHandler } from "./handler.ts";
import { sendResponse } from "./respond.ts";
import { collectFetchListeners } from "./service-worker.ts";
import { giveStringBodiesTheirStandardType } from "./text-default-type.ts";

/** ctx.shared as the lane provides it; `deliver` takes host replies when it works over frames. */
export interface GuestShared {
  add(key: string, delta: number): Promise<number>;
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  deliver?(frame: HostToGuest): void;
}

export function startGuest(end: GuestEnd, sharedFor: (post: (f: GuestToHost) => void) => GuestShared) {
  installFastResponse(); // before the function's module loads (Node: adapters/undici-response.ts)
  giveStringBodiesTheirStandardType(); // before the function's module loads
  const post = (f: GuestToHost) => end.send(f);
  let handler: FetchHandler | undefined;
  let makeRequest: (init: RequestInit2) => Request = () => {
    throw new Error("function not loaded");
  };
  let spec: LoadSpec | undefined;
  let handled = 0;
  const cancels = new Map<number, () => void>();
  const pending = new Set<Promise<unknown>>();
  /** ctx.waitUntil work still running, with the request it came from (for the stop log). */
  const waitUntil = new Map<Promise<unknown>, string>();
  const shared = sharedFor(post);
  const ctxShared = {
    add: (key: string, delta = 1) => shared.add(key, delta),
    get: (key: string) => shared.get(key),
    set: (key: string, value: string) => shared.set(key, value),
  };
  const rpc = rpcChannel(post);

  captureConsole(post);
  onUnhandledRejection((reason) => {
    post({ t: "log", level: "error", text: `unhandled rejection: ${formatArgs([reason])}`, ...rid() });
  });
  onUncaughtException((e) => {
    const err = e instanceof Error ? e : new Error(formatArgs([e]));
    post({ t: "fatal", message: `uncaught exception: ${err.message}`, stack: err.stack ?? err.message });
    end.flush();
    exitNow(1);
  });

  const control: GuestControl = {
    async load(s) {
      spec = s;
      makeRequest = await requestMaker();
      scrubEnv(s.env);
      const fetchListeners = collectFetchListeners();
      const mod = (await import(s.bundleUrl)) as Record<string, unknown>;
      handler = resolveHandler(mod, s.name, fetchListeners);
    },
    async stats() {
      return { inflight: cancels.size, handled, heapUsed: heapUsed(), waitUntil: [...waitUntil.values()] };
    },
    async drain() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
  expose(control, rpc.endpoint);

  end.onBroken(() => exitNow(1)); // the host sent garbage: nothing it sends can be trusted
  end.onFrame((f: HostToGuest) => {
    switch (f.t) {
      case "req":
        track(handle(f));
        break;
      case "cancel":
        cancels.get(f.id)?.();
        break;
      case "ping":
        post({ t: "pong", id: f.id, ...memoryInUse() });
        break;
      case "rpc":
        rpc.deliver(f);
        break;
      case "shared-reply":
        shared.deliver?.(f);
        break;
    }
  });
  post({ t: "ready" });

  function track(p: Promise<unknown>) {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }

  async function handle(f: RequestFrame) {
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
    cancels.set(f.id, abort);
    try {
      if (!handler || !spec) throw new Error("function not loaded");
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
        shared: ctxShared,
        waitUntil: (p: Promise<unknown>) => {
          const work = Promise.resolve(p).catch((e) =>
            post({ t: "log", level: "error", text: `waitUntil rejected: ${formatArgs([e])}`, requestId: f.requestId }),
          );
          waitUntil.set(work, f.requestId);
          void work.finally(() => waitUntil.delete(work));
          track(work);
        },
        passThroughOnException() {},
      };
      const fn = handler;
      const env = { ...spec.env };
      let result: Response;
      try {
        result = sendable(await inRequest(f.requestId, () => fn(request, env, ctx)));
      } catch (e) {
        const err = e instanceof Error ? e : new Error(formatArgs([e]));
        post({ t: "err", id: f.id, message: err.message, stack: err.stack ?? err.message });
        return;
      }
      await sendResponse(
        result,
        {
          head: (status, statusText, headers, body, more) => post({ t: "res", id: f.id, status, statusText, headers, body, more }),
          chunk: (body) => post({ t: "chunk", id: f.id, body }),
          end: (error) => post(error ? { t: "end", id: f.id, error } : { t: "end", id: f.id }),
        },
        (cancel) =>
          cancels.set(f.id, () => {
            abort();
            cancel();
          }),
      );
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      post({ t: "err", id: f.id, message: err.message, stack: err.stack ?? err.message });
    } finally {
      handled++;
      cancels.delete(f.id);
    }
  }
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
