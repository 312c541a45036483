/**
 * Modules in the service-worker style (Cloudflare's first syntax, workerd, Deno Deploy): no
 * default export; the module calls `addEventListener("fetch", (event) => event.respondWith(...))`
 * when it loads. The guest collects those listeners while the module loads and calls them with
 * a fetch event per request. Node has no `addEventListener` (nor `self`) on its global object,
 * so without this such a module fails at import there ("addEventListener is not defined").
 */
import type { FetchHandler } from "./handler.ts";

type Listener = (event: Event) => unknown;
type ListenerLike = Listener | { handleEvent: Listener };

interface Ctx {
  waitUntil(p: Promise<unknown>): void;
}

/** Start collecting "fetch" listeners; other event types go to the runtime's own addEventListener. */
export function collectFetchListeners(): Listener[] {
  const g = globalThis as { addEventListener?: AddEventListener; self?: unknown };
  const { listeners, addEventListener } = fetchListenerSink(g.addEventListener?.bind(globalThis));
  g.addEventListener = addEventListener;
  g.self ??= globalThis;
  return listeners;
}

type AddEventListener = (type: string, l: ListenerLike, o?: unknown) => void;

/**
 * An `addEventListener` that keeps "fetch" listeners in `listeners` and passes other types to
 * `runtimeOwn`: a packed function's context gets one of its own (runtime/guest/guest.ts).
 */
export function fetchListenerSink(runtimeOwn?: AddEventListener): { listeners: Listener[]; addEventListener: AddEventListener } {
  const listeners: Listener[] = [];
  const addEventListener: AddEventListener = (type, listener, options) => {
    if (type !== "fetch") return runtimeOwn?.(type, listener, options);
    listeners.push(typeof listener === "function" ? listener : (e) => listener.handleEvent(e));
  };
  return { listeners, addEventListener };
}

/**
 * A handler that dispatches a "fetch" event (an Event with `request`, `respondWith`,
 * `waitUntil`, `passThroughOnException`) to the listeners; like a service worker, a listener
 * must call respondWith while the event is dispatched.
 */
export function serviceWorkerHandler(listeners: Listener[]): FetchHandler {
  return (request, _env, ctx) =>
    new Promise((resolve, reject) => {
      let responded = false;
      const event = new Event("fetch");
      Object.defineProperties(event, {
        request: { value: request, enumerable: true },
        respondWith: {
          value: (response: unknown) => {
            if (responded) throw new TypeError("event.respondWith() was already called for this request");
            responded = true;
            Promise.resolve(response).then(resolve, reject);
          },
        },
        waitUntil: { value: (p: Promise<unknown>) => (ctx as Ctx).waitUntil(p) },
        passThroughOnException: { value: () => {} },
      });
      try {
        for (const listener of listeners) listener(event);
      } catch (e) {
        return reject(e);
      }
      if (!responded) reject(new Error('the "fetch" listener did not call event.respondWith() while the event was dispatched'));
    });
}
