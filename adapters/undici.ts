/**
 * Node guests (undici) and Deno guests: building the function's Request costs 6 µs on Node, 46 µs
 * with a `signal`, and 4 µs on Deno, and reading a Response back through its stream 25 µs on Node
 * (README.md in this folder, Channel), most of a hop's cost. Two shortcuts that keep the platform's own
 * classes:
 *
 * - `lazyRequest`: an object whose prototype chain is Request.prototype and that builds the real
 *   Request only when the function touches more than `method` and `url`. Every member of
 *   Request.prototype and every internal symbol of a Request forwards to that real one, so the
 *   runtime's own code (`fetch(request)`, `new Request(request)`, `clone()`,
 *   `Request.prototype.text.call(request)`) takes it for what it is. `signal` is the guest's own
 *   AbortController's, which aborts when the client goes away, so a request passed on to
 *   `fetch()` or cloned follows it too: undici keeps the signal in an own slot that the lazy
 *   object answers itself; Deno's real Request is built with the guest's signal.
 *   On every runtime (Bun's in bun-request.ts), a function that reads the body first
 *   (`arrayBuffer`, `text`, `json`), before anything builds the Request, gets the bytes the lazy
 *   one has (a copy, or the array itself where the channel made it for this body alone:
 *   `ownBuffer`): undici's Request copies a body in and `arrayBuffer()` reads it back through a
 *   stream, 176-200 µs of CPU for 256 KiB against 12-39 for one copy, and Deno's and Bun's make
 *   two arrays the collector must free (README.md in this folder, Channel). A Request built after
 *   that is built with its body read, so the platform says what it says of a read body.
 * - `wholeBody` (Node; Deno's is deno-response.ts): the bytes of a Response whose body is a
 *   string or bytes, read from undici's state instead of its stream; the stream is locked, so
 *   the body cannot be read twice.
 *
 * Both check at start-up that the runtime has the shape they rely on, and compare their answers
 * with the platform's; on any difference they stay off and the guest uses the platform's way.
 */
import { nodeBodyBytes } from "./response-parts.ts";

export interface RequestInit2 {
  url: string;
  method: string;
  headers: [string, string][];
  body: Uint8Array | null;
  /** The request's signal, made when first asked for. */
  signal: () => AbortSignal;
}

type Real = Record<PropertyKey, unknown> & Request;
export const INIT = Symbol("lanes.init");
export const REAL = Symbol("lanes.real");
const URL_ = Symbol("lanes.url");
const READ = Symbol("lanes.read");
/** A lazy request: its parts, the real Request once something needed it, and whether its body was read before that. */
export type Lazy = { [INIT]: RequestInit2; [REAL]?: Request; [URL_]?: string; [READ]?: true };
const NO_BYTES = new Uint8Array(0);
const utf8 = new TextDecoder();

/**
 * The platform's Request made from a lazy one's parts. `withSignal` false: the lazy object
 * answers for the signal itself (undici's slot, below). `Native`: the class to build with, where
 * the global `Request` has been replaced (bun-request.ts).
 */
export function platformRequest(i: RequestInit2, withSignal = true, Native: typeof Request = Request): Request {
  const body = i.body as Uint8Array<ArrayBuffer> | null;
  return new Native(i.url, withSignal ? { method: i.method, headers: i.headers, body, signal: i.signal() } : { method: i.method, headers: i.headers, body });
}

/** An internal slot of a platform object, found by its symbol's description (Node's undici and Deno key them so). */
export function symbolNamed(o: object, name: string): symbol | undefined {
  return Object.getOwnPropertySymbols(o).find((s) => s.description === name);
}

function lazyFactory(): ((init: RequestInit2) => Request) | undefined {
  const sample = new Request("http://lanes.test/", { method: "POST", body: "x" });
  const kSignal = symbolNamed(sample, "signal"); // undici
  const deno = !kSignal && symbolNamed(sample, "request") !== undefined && symbolNamed(sample, "signalCache") !== undefined;
  if (!((kSignal && symbolNamed(sample, "state")) || deno) || typeof Request.prototype.text !== "function") return undefined;
  const real = (o: Lazy): Real => {
    o[REAL] ??= realRequest(o, deno);
    return o[REAL] as Real;
  };
  const proto = {} as Record<PropertyKey, unknown>;
  const define = (key: PropertyKey, d: PropertyDescriptor) => Object.defineProperty(proto, key, { ...d, configurable: true });
  for (const key of [...Object.getOwnPropertyNames(Request.prototype), ...Object.getOwnPropertySymbols(Request.prototype)]) {
    if (key === "constructor" || key === Symbol.toStringTag) continue;
    const d = Object.getOwnPropertyDescriptor(Request.prototype, key)!;
    if (d.get)
      define(key, {
        get(this: Lazy) {
          return real(this)[key];
        },
      });
    else if (typeof d.value === "function")
      define(key, {
        value(this: Lazy, ...args: unknown[]) {
          return (real(this)[key] as (...a: unknown[]) => unknown)(...args);
        },
      });
  }
  for (const key of Object.getOwnPropertySymbols(sample)) {
    if (key === kSignal) continue;
    define(key, {
      get(this: Lazy) {
        return real(this)[key];
      },
      set(this: Lazy, v: unknown) {
        real(this)[key] = v;
      },
    });
  }
  defineUnbuiltParts(define);
  defineFirstReads(define, real);
  if (kSignal) {
    define(kSignal, {
      get(this: Lazy) {
        return this[INIT].signal();
      },
      set() {},
    });
  }
  Object.setPrototypeOf(proto, Request.prototype);
  return (init) => {
    const o = Object.create(proto) as Lazy;
    o[INIT] = init;
    return o as unknown as Request;
  };
}

/**
 * A lazy request's `method`, `url` and `signal`, answered from its parts without building it:
 * undici's and Bun's `request.url` is the input parsed as a URL and serialized, and the signal is
 * the guest's own (Bun's `request.signal` is the one it was given; undici and Deno follow it).
 */
export function defineUnbuiltParts(define: (key: PropertyKey, d: PropertyDescriptor) => void): void {
  define("method", {
    get(this: Lazy) {
      return this[INIT].method;
    },
  });
  define("url", {
    get(this: Lazy) {
      return (this[URL_] ??= this[REAL]?.url ?? new URL(this[INIT].url).href);
    },
  });
  define("signal", {
    get(this: Lazy) {
      return this[INIT].signal();
    },
  });
}

/**
 * A body's bytes as an ArrayBuffer the function may keep. A body that is all of its own
 * ArrayBuffer is handed over as it is: the channel made that array for this request alone (a
 * frame assembled from several reads, a read that was all body, a body transferred from the
 * host), and nothing reads it after this. Anything else is a view into memory shared with other
 * frames (a read, the ring), so it is copied: exactly its bytes, since a Node child's body is a
 * Buffer, whose slice() is a view. Handing the array over saves the guest a copy of 256 KiB per
 * `body` echo (README.md in this folder, Channel).
 */
function ownBuffer(b: Uint8Array): ArrayBuffer {
  const whole = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer;
  return whole ? (b.buffer as ArrayBuffer) : Uint8Array.prototype.slice.call(b).buffer;
}

/**
 * `arrayBuffer`, `text` and `json` of a lazy request whose body is bytes and was neither read nor
 * built into a Request: answered from those bytes (a copy the function may keep). Anything else
 * is the platform's, its errors included: a second read, or a read of a built one.
 */
export function defineFirstReads(define: (key: PropertyKey, d: PropertyDescriptor) => void, real: (o: Lazy) => Request): void {
  const take = (o: Lazy): Uint8Array | undefined => {
    const body = o[INIT].body;
    if (o[REAL] || o[READ] || !(body instanceof Uint8Array)) return undefined;
    o[READ] = true;
    return body;
  };
  define("arrayBuffer", {
    value(this: Lazy) {
      const b = take(this);
      return b ? Promise.resolve(ownBuffer(b)) : real(this).arrayBuffer();
    },
  });
  define("text", {
    value(this: Lazy) {
      const b = take(this);
      return b ? Promise.resolve(utf8.decode(b)) : real(this).text();
    },
  });
  define("json", {
    value(this: Lazy) {
      const b = take(this);
      if (!b) return real(this).json();
      try {
        return Promise.resolve(JSON.parse(utf8.decode(b)));
      } catch (e) {
        return Promise.reject(e);
      }
    },
  });
}

/**
 * The platform's Request for a lazy one: from its parts, or, if the function read the body first
 * (`defineFirstReads`), from its parts without the body, and read, as reading leaves a body.
 */
export function realRequest(o: Lazy, withSignal: boolean, Native: typeof Request = Request): Request {
  if (!o[READ]) return platformRequest(o[INIT], withSignal, Native);
  const i = o[INIT];
  // (not a spread: a guest's init keeps `signal` on its prototype)
  return readRequest(platformRequest({ url: i.url, method: i.method, headers: i.headers, body: NO_BYTES, signal: () => i.signal() }, withSignal, Native));
}

/** `r` with its body used, as reading it leaves it: disturbed, and locked to a reader. */
function readRequest(r: Request): Request {
  r.body
    ?.getReader()
    .read()
    .catch(() => {});
  return r;
}

/** The lazy factory if it answers exactly as the platform on a sample (else undefined). Bun's is bun-request.ts. */
export async function checked(make: (init: RequestInit2) => Request): Promise<((init: RequestInit2) => Request) | undefined> {
  const init = (): RequestInit2 => ({
    url: "http://lanes.test/a/../b?q=1",
    method: "PUT",
    headers: [
      ["x-a", "1"],
      ["content-type", "text/plain"],
    ],
    body: new TextEncoder().encode("body ✓"),
    signal: () => controller.signal,
  });
  const controller = new AbortController();
  const describe = async (r: Request) => JSON.stringify([r.method, r.url, [...r.headers], await r.clone().text(), await new Request(r).text(), r instanceof Request, String(r)]);
  if ((await describe(make(init()))) !== (await describe(platformRequest(init(), false)))) return undefined;
  // a body read first, then what is left of the request
  const afterRead = async (r: Request) => {
    const text = await r.text();
    const again = await r.arrayBuffer().then(
      () => "read again",
      (e: Error) => `${e.name}: ${e.message}`,
    );
    return JSON.stringify([text, r.bodyUsed, r.body?.locked, again, [...r.headers], r.method]);
  };
  if ((await afterRead(make(init()))) !== (await afterRead(platformRequest(init(), false)))) return undefined;
  // the guest's signal: the lazy request's own, and a request made from it follows it
  const lazy = make(init());
  const derived = new Request(lazy);
  controller.abort();
  return lazy.signal.aborted && derived.signal.aborted ? make : undefined;
}

let factory: Promise<((init: RequestInit2) => Request) | undefined> | undefined;

/** Resolves to the lazy Request maker on Node (undici) and Deno, undefined elsewhere or if it misbehaves. */
export function lazyRequests(): Promise<((init: RequestInit2) => Request) | undefined> {
  factory ??= (async () => {
    try {
      const make = lazyFactory();
      return make ? await checked(make) : undefined;
    } catch {
      return undefined;
    }
  })();
  return factory;
}

interface UndiciState {
  body: { stream: ReadableStream<Uint8Array>; source: unknown } | null;
}

let kState: symbol | undefined | null = null;

/**
 * The whole body of an undici Response made from a string or bytes (a copy the caller may keep),
 * `null` for no body, or undefined when it has to be read the platform's way.
 */
export function wholeBody(res: Response): Uint8Array | null | undefined {
  if (kState === null) kState = symbolNamed(new Response("x"), "state");
  if (!kState) return undefined;
  const state = (res as unknown as Record<symbol, UndiciState | undefined>)[kState];
  if (!state || typeof state !== "object" || !("body" in state)) return undefined;
  const body = state.body;
  if (body === null) return null;
  const { stream, source } = body;
  if (!stream || stream.locked || res.bodyUsed) return undefined;
  let bytes: Uint8Array;
  if (typeof source === "string") bytes = nodeBodyBytes(source);
  else if (source instanceof Uint8Array) bytes = source.slice();
  else return undefined;
  stream.getReader(); // the body is now used, as reading it would have made it
  return bytes;
}
