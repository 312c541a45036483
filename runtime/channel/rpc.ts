/**
 * comlink over our own frames: control calls share the request channel as `{t:"rpc", json}`
 * frames, so they work over the ring and over a pipe alike. comlink's messages are plain JSON
 * values (ids, paths, argument lists of plain data), so JSON text carries them.
 */
import type { Endpoint } from "comlink";
import type { RpcFrame } from "./frames.ts";

type Listener = EventListenerOrEventListenerObject;

export interface RpcChannel {
  endpoint: Endpoint;
  /** Hand an incoming `rpc` frame to comlink. */
  deliver(frame: RpcFrame): void;
  /**
   * The other side is gone: drop `post` and comlink's listeners. comlink's FinalizationRegistry
   * holds each proxy's endpoint strongly until the proxy is collected; while the endpoint's
   * `post` reaches the proxy's owner (which holds the proxy), neither is ever collected, and
   * every instance the host ever ran stayed in its heap.
   */
  close(): void;
}

export function rpcChannel(post: (frame: RpcFrame) => void): RpcChannel {
  let send: typeof post | undefined = post;
  const listeners = new Set<Listener>();
  return {
    endpoint: {
      postMessage: (m: unknown) => send?.({ t: "rpc", json: JSON.stringify(m) }),
      addEventListener: (_type: string, l: Listener) => void listeners.add(l),
      removeEventListener: (_type: string, l: Listener) => void listeners.delete(l),
    },
    deliver(frame) {
      if (!send) return;
      const event = { data: JSON.parse(frame.json) } as MessageEvent;
      for (const l of listeners) {
        if (typeof l === "function") l(event);
        else l.handleEvent(event);
      }
    },
    close() {
      send = undefined;
      listeners.clear();
    },
  };
}
