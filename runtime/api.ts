/**
 * The types a function is written against: `import type { Context, Handler } from "lanes"`.
 * This module is the package's "types" entry (package.json "exports"), so it holds types only
 * and imports nothing: it type-checks the same in this repo and in a user's folder.
 */

/** `ctx.shared`: a store shared by every instance of a function (or of a `"shared"` group). */
export interface Shared {
  /** Add `delta` (default 1) to a counter atomically; resolves to the new total (`add(key, 0)` reads it). */
  add(key: string, delta?: number): Promise<number>;
  /** A string value, or undefined when the key holds none. */
  get(key: string): Promise<string | undefined>;
  /** Store a string value. Rejects with a clear error when the store is full; other entries are untouched. */
  set(key: string, value: string): Promise<void>;
}

/** The third argument of a function's fetch handler. */
export interface Context {
  /** The request's id, also sent back as the `x-request-id` response header and named in the log. */
  readonly requestId: string;
  readonly lane: "isolate" | "process";
  /** Route parameters, e.g. `{ id: "7" }` for the route `/users/:id` and the path `/users/7`. */
  readonly params: Record<string, string>;
  /**
   * The W3C trace context of this request (`00-<trace id>-<parent id>-<flags>`), also in the
   * request's `traceparent` header: the caller's when it sent a valid one, else a new trace.
   * Pass it on to calls the function makes so they join the same trace.
   */
  readonly traceparent: string;
  readonly shared: Shared;
  /** Keep the instance working on `promise` after the response is sent. */
  waitUntil(promise: Promise<unknown>): void;
  /** Accepted for Cloudflare Workers compatibility; does nothing. */
  passThroughOnException(): void;
}

/** A function's environment: exactly the manifest's `env` for it. */
export type Env = Record<string, string>;

/** A fetch handler: what a function module's default export is, or has as its `fetch`. */
export type Handler<E extends Env = Env> = (request: Request, env: E, ctx: Context) => Response | Promise<Response>;

/** `export default { fetch(request, env, ctx) { ... } } satisfies ExportedHandler`. */
export interface ExportedHandler<E extends Env = Env> {
  fetch: Handler<E>;
}
