/**
 * Bun guests: the function's Request, built only when the function touches more than its
 * `method`, `url` and `signal`. Under `hello` load a Bun worker spent about 4 µs of its 11 µs per
 * request on `new Request(url, { method, headers, signal })` and the AbortController behind the
 * signal, their construction and the sweeping of their native halves (README.md in this folder,
 * Channel). Node and Deno guests get the same from undici.ts; @hono/node-server does it for the
 * `direct` baseline.
 *
 * Bun's Request is a native class whose members check that `this` is one, and whose constructor
 * and `fetch` read a Request-like object through its getters (losing the body's state). So,
 * besides the lazy object (a prototype of forwarders above `Request.prototype`):
 * - `Request` is a function with the platform's prototype and `length` that hands the real
 *   Request to the platform's constructor (as response-hook.ts does for Response), so
 *   `new Request(request, init)`, `instanceof`, `constructor` and subclasses work as before;
 * - `fetch` hands the real one to the platform's (its statics, `fetch.preconnect`, stay);
 * - the methods of `Request.prototype` called on a lazy one (`Request.prototype.text.call(r)`)
 *   run on the real one; on a real Request they are the platform's, unchanged;
 * - inspecting it (`console.log`, `Bun.inspect`) shows the real one.
 * - a function that reads the body first (`arrayBuffer`, `text`, `json`) gets the bytes the lazy
 *   one has, as on Node (undici.ts, `defineFirstReads`): Bun's Request copied the body in and
 *   `arrayBuffer()` copied it out again (README.md in this folder, Channel).
 * Left different: the getters of `Request.prototype` called on a lazy one directly
 * (`Object.getOwnPropertyDescriptor(Request.prototype, "url").get.call(r)`) throw, since Bun makes
 * them non-configurable, and `structuredClone(r)` gives `{}` where the platform throws.
 */
import { standIn } from "../runtime/guest/stand-in.ts";
import { defineFirstReads, defineUnbuiltParts, INIT, realRequest, REAL, type Lazy, type RequestInit2 } from "./undici.ts";

type Fn = (this: unknown, ...args: unknown[]) => unknown;

/** The lazy requests, told apart without asking the object (a Proxy's traps would see the question). */
const lazies = new WeakSet<object>();

function isLazy(o: unknown): o is Lazy {
  return typeof o === "object" && o !== null && lazies.has(o);
}

function real(o: Lazy): Request {
  o[REAL] ??= realRequest(o, true, NativeRequest);
  return o[REAL];
}

const unwrap = (o: unknown): unknown => (isLazy(o) ? real(o) : o);

let NativeRequest: typeof Request;

/** The lazy Request maker for a Bun guest; installs the global `Request` and `fetch` it needs. */
export function bunLazyRequests(): (init: RequestInit2) => Request {
  NativeRequest = globalThis.Request;
  const native = NativeRequest.prototype as unknown as Record<string, unknown>;
  const proto: Record<PropertyKey, unknown> = {};
  const define = (key: PropertyKey, d: PropertyDescriptor) => Object.defineProperty(proto, key, { ...d, configurable: true });
  for (const key of Object.getOwnPropertyNames(native)) {
    if (key === "constructor") continue;
    const d = Object.getOwnPropertyDescriptor(native, key)!;
    if (d.get) {
      const get = d.get;
      define(key, {
        get(this: Lazy) {
          return get.call(real(this));
        },
      });
    } else if (typeof d.value === "function") {
      const method = d.value as Fn;
      define(key, {
        value(this: Lazy, ...args: unknown[]) {
          return method.apply(real(this), args);
        },
        writable: true,
      });
      // writable though not configurable on Bun: the same function for a real Request, the real one for a lazy one
      native[key] = {
        [key](this: unknown, ...args: unknown[]) {
          return method.apply(unwrap(this), args);
        },
      }[key];
      Object.defineProperty(native[key], "length", { value: method.length });
    }
  }
  defineUnbuiltParts(define);
  defineFirstReads(define, real);
  define(Symbol.for("nodejs.util.inspect.custom"), {
    value(this: Lazy) {
      return real(this);
    },
  });
  Object.setPrototypeOf(proto, native);
  installRequest();
  installFetch();
  return (init) => {
    const o = Object.create(proto) as Lazy;
    o[INIT] = init;
    lazies.add(o);
    return o as unknown as Request;
  };
}

/** `Request` as a function over the platform's class: the real Request for a lazy input. */
function installRequest(): void {
  const Native = NativeRequest;
  const Hooked = function Request(this: unknown, input: unknown, init?: RequestInit): Request {
    // called without `new`: the platform's own TypeError
    if (new.target === undefined) return (Native as unknown as (i: unknown, o: unknown) => Request)(input, init);
    const from = unwrap(input) as RequestInfo;
    return new.target === Hooked ? new Native(from, init) : (Reflect.construct(Native, [from, init], new.target) as Request);
  };
  standIn(Hooked, Native);
  globalThis.Request = Hooked as unknown as typeof Request;
}

function installFetch(): void {
  const native = globalThis.fetch as unknown as Fn;
  const hooked = {
    fetch(this: unknown, input: unknown, ...rest: unknown[]) {
      return native.call(this, unwrap(input), ...rest);
    },
  }.fetch;
  Object.setPrototypeOf(hooked, native); // fetch.preconnect and the rest
  Object.defineProperty(hooked, "length", { value: native.length });
  globalThis.fetch = hooked as unknown as typeof fetch;
}
