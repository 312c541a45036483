/**
 * Node guests only: undici builds a Response in ~11 µs (a ReadableStream, its transferable
 * wrapper, a Headers list) and reading it back costs more (README.md in this folder, Channel). This
 * Response class answers a function's `new Response(body, init)` without building any of that
 * when the arguments are plainly valid, and behaves as the platform's for everything else:
 *
 * - The fast path is taken only for a string, bytes or no body, and an init that is absent or a
 *   plain object whose `headers`, `status` and `statusText` (read once each, in WebIDL's order)
 *   are plain values the platform would accept unchanged. For anything else (and every invalid
 *   value) the platform's own constructor runs, with the values already read, and throws its
 *   own error. Bytes and headers are copied at construction, as the platform copies them.
 * - `status`, `statusText`, `ok`, `type`, `url`, `redirected` and `bodyUsed` are answered as the
 *   platform would; every other member, and every internal symbol of an undici Response (so
 *   undici's own code, e.g. `Response.prototype.clone.call(r)`, sees the real one), goes to a real
 *   Response built from the same arguments on first use.
 * - `instanceof Response` holds for these and for the platform's own (fetch() results).
 * The guest then takes `lightParts(r)` (status, headers as the platform lists them, bytes).
 */
import type { HeaderPairs } from "../runtime/channel/frames.ts";
import { iteratedHeaders, nodeBodyBytes, type ResponseParts } from "./response-parts.ts";

const PARTS = Symbol("lanes.parts");
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What undici accepts as a header value before it trims it (a ByteString without NUL, CR, LF). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** A reason phrase: HTAB, SP, VCHAR, obs-text. */
const REASON = /^[\t\x20-\x7e\x80-\xff]*$/;
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

interface Parts {
  body: string | Uint8Array | null;
  status: number;
  statusText: string;
  headers: HeaderPairs;
  defaultType: string | undefined;
  real?: Response;
}
type Light = { [PARTS]: Parts };

/** What the guest sends for a light Response: undefined once a real one was built (or for any other Response). */
export function lightParts(res: Response): ResponseParts | undefined {
  const p = (res as unknown as Partial<Light>)[PARTS];
  if (!p || p.real) return undefined;
  const typed = p.defaultType && !p.headers.some(([name]) => name.length === 12 && name.toLowerCase() === "content-type");
  const headers = iteratedHeaders(typed ? [...p.headers, ["content-type", p.defaultType!]] : p.headers);
  const body = p.body === null ? null : typeof p.body === "string" ? nodeBodyBytes(p.body) : p.body;
  return { status: p.status, statusText: p.statusText, headers, body: body && body.byteLength > 0 ? body : null };
}

/** Read `init` as WebIDL's ResponseInit conversion would, and keep it only if the platform would take it unchanged. */
function plainInit(init: unknown): { status: number; statusText: string; headers: HeaderPairs } | { raw: object | undefined } | undefined {
  if (init === undefined || init === null) return { status: 200, statusText: "", headers: [] };
  if (typeof init !== "object" && typeof init !== "function") return undefined;
  const dict = init as Record<string, unknown>;
  // WebIDL reads dictionary members in lexicographic order, each once
  const raw = { headers: dict.headers, status: dict.status, statusText: dict.statusText };
  const snapshot = { raw };
  const status = raw.status === undefined ? 200 : raw.status;
  const statusText = raw.statusText === undefined ? "" : raw.statusText;
  if (typeof status !== "number" || !Number.isInteger(status) || status < 200 || status > 599) return snapshot;
  if (typeof statusText !== "string" || !REASON.test(statusText)) return snapshot;
  const headers = plainHeaders(raw.headers);
  return headers ? { status, statusText, headers } : snapshot;
}

function plainHeaders(h: unknown): HeaderPairs | undefined {
  if (h === undefined) return [];
  const out: HeaderPairs = [];
  const add = (k: unknown, v: unknown) => typeof k === "string" && typeof v === "string" && TOKEN.test(k) && HEADER_VALUE.test(v) && out.push([k, v]);
  if (Array.isArray(h)) {
    for (const pair of h) if (!Array.isArray(pair) || pair.length !== 2 || !add(pair[0], pair[1])) return undefined;
    return out;
  }
  if (typeof h !== "object" || h === null || Object.getPrototypeOf(h) !== Object.prototype) return undefined;
  if (Object.getOwnPropertySymbols(h).length > 0) return undefined;
  for (const k of Object.keys(h)) if (!add(k, (h as Record<string, unknown>)[k])) return undefined;
  return out;
}

function plainBody(b: unknown): string | Uint8Array | null | undefined {
  if (b === undefined || b === null) return null;
  if (typeof b === "string") return b;
  if (b instanceof ArrayBuffer) return new Uint8Array(b.slice(0));
  if (b instanceof Uint8Array && b.buffer instanceof ArrayBuffer) return b.slice();
  return undefined;
}

/** A Response class to install as `globalThis.Response` in a Node guest (undici's class as `Native`). */
type ResponseClass = typeof globalThis.Response;

export function lightResponseClass(Native: ResponseClass): ResponseClass {
  const isLight = (x: unknown): x is Light => typeof x === "object" && x !== null && PARTS in x;
  const real = (x: Light): Response => {
    const p = x[PARTS];
    if (!p.real) {
      const built = new Native(p.body as BodyInit | null, { status: p.status, statusText: p.statusText, headers: p.headers });
      // the platform infers text/plain from a string body itself; only JSON's type is set by hand
      if (p.defaultType === "application/json" && !p.headers.some(([k]) => k.toLowerCase() === "content-type")) {
        built.headers.set("content-type", p.defaultType);
      }
      p.real = built;
    }
    return p.real;
  };
  // `this` is a light Response (forward to its real one) or a real one (as for subclasses)
  const target = (self: unknown): Response => (isLight(self) ? real(self) : (self as Response));

  function Response(this: unknown, body?: unknown, init?: unknown): Response {
    if (!new.target) return Reflect.apply(Native, this, [body, init]) as Response; // throws as the platform does
    const b = new.target === Response ? plainBody(body) : undefined;
    const i = b === undefined ? undefined : plainInit(init);
    if (b === undefined || !i || "raw" in i || (b !== null && NULL_BODY.has(i.status))) {
      const args = i && "raw" in i ? [body, i.raw] : [body, init];
      return Reflect.construct(Native, args, new.target) as Response;
    }
    const self = Object.create(Response.prototype) as Light;
    self[PARTS] = { body: b, ...i, defaultType: typeof b === "string" ? "text/plain;charset=UTF-8" : undefined };
    return self as unknown as Response;
  }
  const proto = Response.prototype as unknown as Record<PropertyKey, unknown>;
  const sample = new Native("x");
  const members = [...Object.getOwnPropertyNames(Native.prototype), ...Object.getOwnPropertySymbols(Native.prototype)];
  for (const key of members) {
    if (key === "constructor") continue;
    const d = Object.getOwnPropertyDescriptor(Native.prototype, key)!;
    if (d.get)
      Object.defineProperty(proto, key, {
        configurable: true,
        get(this: unknown) {
          return Reflect.get(Native.prototype, key, target(this));
        },
      });
    else if (typeof d.value === "function") {
      const fn = d.value as (...a: unknown[]) => unknown;
      Object.defineProperty(proto, key, {
        configurable: true,
        writable: true,
        value(this: unknown, ...args: unknown[]) {
          return fn.apply(target(this), args);
        },
      });
    } else Object.defineProperty(proto, key, d);
  }
  for (const key of Object.getOwnPropertySymbols(sample)) {
    Object.defineProperty(proto, key, {
      configurable: true,
      get(this: unknown) {
        return isLight(this) ? (real(this) as unknown as Record<symbol, unknown>)[key] : undefined;
      },
      set(this: unknown, v: unknown) {
        // a light one forwards; any other object (the platform's constructor filling in a
        // Response made with this prototype) gets the property as a plain assignment would give it
        if (isLight(this)) (real(this) as unknown as Record<symbol, unknown>)[key] = v;
        else Object.defineProperty(this, key, { value: v, writable: true, enumerable: true, configurable: true });
      },
    });
  }
  const answer = (key: string, get: (p: Parts) => unknown) =>
    Object.defineProperty(proto, key, {
      configurable: true,
      get(this: unknown) {
        return isLight(this) && !this[PARTS].real ? get(this[PARTS]) : Reflect.get(Native.prototype, key, target(this));
      },
    });
  answer("status", (p) => p.status);
  answer("statusText", (p) => p.statusText);
  answer("ok", (p) => p.status >= 200 && p.status < 300);
  answer("type", () => "default");
  answer("url", () => "");
  answer("redirected", () => false);
  answer("bodyUsed", () => false);
  Object.setPrototypeOf(proto, Native.prototype);
  Object.setPrototypeOf(Response, Native);
  Object.defineProperty(Response, "length", { value: Native.length });
  // by value: a bundler may rename the function itself
  Object.defineProperty(Response, "name", { value: Native.name });
  Object.defineProperty(Response, Symbol.hasInstance, { value: (x: unknown) => x instanceof Native || isLight(x) });
  Object.defineProperty(Response, "json", {
    configurable: true,
    writable: true,
    value(data: unknown, init?: unknown) {
      // the platform converts init first, then serializes the data
      const i = plainInit(init);
      if (!i || "raw" in i || NULL_BODY.has(i.status)) return Reflect.apply(Native.json, Native, [data, i && "raw" in i ? i.raw : init]) as globalThis.Response;
      const text = JSON.stringify(data);
      if (typeof text !== "string") return Reflect.apply(Native.json, Native, [data, init]) as globalThis.Response;
      const self = Object.create(Response.prototype) as Light;
      self[PARTS] = { body: text as string, ...i, defaultType: "application/json" };
      return self as unknown as Response;
    },
  });
  return Response as unknown as ResponseClass;
}
