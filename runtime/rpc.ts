/**
 * comlink over our own frames: control calls (load, stats, drain) share the request channel
 * as `{t:"rpc", m}` frames, so they work over a worker's port and over a child's JSON IPC alike.
 * comlink's own messages are plain JSON values (runtime-matrix P2). The request hot path does
 * not go through comlink: at 64 calls in flight it is 2–4x slower than plain frames.
 */
import type { Endpoint } from "comlink";

type Listener = EventListenerOrEventListenerObject;

export interface RpcChannel {
  endpoint: Endpoint;
  /** Hand an incoming `rpc` frame's payload to comlink. */
  deliver(message: unknown): void;
}

export function rpcChannel(post: (frame: { t: "rpc"; m: unknown }) => void): RpcChannel {
  const listeners = new Set<Listener>();
  return {
    endpoint: {
      postMessage: (m: unknown) => post({ t: "rpc", m }),
      addEventListener: (_type: string, l: Listener) => void listeners.add(l),
      removeEventListener: (_type: string, l: Listener) => void listeners.delete(l),
    },
    deliver(m) {
      const event = { data: m } as MessageEvent;
      for (const l of listeners) {
        if (typeof l === "function") l(event);
        else l.handleEvent(event);
      }
    },
  };
}
