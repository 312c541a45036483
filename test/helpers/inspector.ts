/**
 * A small client of a runtime's inspector (Chrome DevTools Protocol on node and deno, WebKit's
 * inspector protocol on bun: for what this client uses, the same messages), over WebSocket.
 * Bun and Deno have a WebSocket client built in; Node 20 has none without a flag, so on Node
 * this uses the `ws` package.
 */
type Listener = (params: Record<string, unknown>) => void;
type Socket = {
  send(data: string): void;
  close(): void;
  addEventListener(type: string, listener: (e: { data?: unknown }) => void): void;
};

const WebSocketImpl: new (url: string) => Socket =
  (globalThis as { WebSocket?: new (url: string) => Socket }).WebSocket ?? ((await import("ws")).WebSocket as unknown as new (url: string) => Socket);

export class Inspector {
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve(r: unknown): void; reject(e: Error): void }>();
  /** Every event so far, in order (a test may wait for one that came before it asked). */
  readonly events: { method: string; params: Record<string, unknown> }[] = [];
  private readonly listeners = new Set<Listener & { method: string }>();

  private constructor(private readonly socket: Socket) {
    socket.addEventListener("message", (e) => {
      const m = JSON.parse(String(e.data)) as { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: Record<string, unknown> };
      if (m.id !== undefined) {
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (m.error) w?.reject(new Error(`${m.error.message}`));
        else w?.resolve(m.result);
        return;
      }
      if (!m.method) return;
      this.events.push({ method: m.method, params: m.params ?? {} });
      for (const l of this.listeners) if (l.method === m.method) l(m.params ?? {});
    });
  }

  static connect(url: string, timeoutMs = 10_000): Promise<Inspector> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocketImpl(url);
      const timer = setTimeout(() => reject(new Error(`no WebSocket connection to ${url} within ${timeoutMs} ms`)), timeoutMs);
      socket.addEventListener("open", () => {
        clearTimeout(timer);
        resolve(new Inspector(socket));
      });
      socket.addEventListener("error", () => {
        clearTimeout(timer);
        reject(new Error(`WebSocket connection to ${url} failed`));
      });
    });
  }

  send<T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (r: unknown) => void, reject });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** The first event `method` (already received or still to come) that `match` accepts. */
  event(method: string, match: (params: Record<string, unknown>) => boolean = () => true, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const seen = this.events.find((e) => e.method === method && match(e.params));
    if (seen) return Promise.resolve(seen.params);
    return new Promise((resolve, reject) => {
      const l = Object.assign(
        (params: Record<string, unknown>) => {
          if (!match(params)) return;
          this.listeners.delete(l);
          clearTimeout(timer);
          resolve(params);
        },
        { method },
      );
      const timer = setTimeout(() => {
        this.listeners.delete(l);
        reject(new Error(`no ${method} event within ${timeoutMs} ms`));
      }, timeoutMs);
      this.listeners.add(l);
    });
  }

  close(): void {
    this.socket.close();
  }
}
