/**
 * A `Response` that keeps a plain body (string, bytes, none) and its init as given, and builds
 * the runtime's own Response only when something asks for more than status, headers or those
 * bytes. On Node 20 the runtime's Response (undici) costs about 15 µs to build and 20 µs more
 * to read back through its stream, which is most of what a request costs in a guest; the guest
 * only needs the parts (`lightParts`). @hono/node-server does the same for Node hosts
 * (https://github.com/honojs/node-server/blob/main/src/response.ts).
 *
 * It behaves as a Response to the function: `instanceof Response` holds both ways, invalid
 * statuses throw where the Response is made, headers read and write, and any other use (body
 * stream, clone, text) goes through a real Response built on first use.
 */
import type { HeaderPairs } from "../channel/frames.ts";

export interface LightParts {
  status: number;
  statusText: string;
  headers: HeaderPairs;
  /** A copy: the function may reuse its buffer for the next response. */
  body: Uint8Array | null;
}

type PlainBody = string | Uint8Array | ArrayBuffer | null;

const PARTS = Symbol("lanes.lightParts");
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What a header value may hold once trimmed (a ByteString without CR, LF or NUL). */
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const HTTP_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
const TEXT = "text/plain;charset=UTF-8";
const encoder = new TextEncoder();

interface LightResponse extends Response {
  [PARTS](): LightParts | undefined;
}

/** The parts of a light Response, or undefined for any other (or if they cannot be sent as is). */
export function lightParts(res: Response): LightParts | undefined {
  return PARTS in res ? (res as LightResponse)[PARTS]() : undefined;
}

/** A Response class to install as `globalThis.Response` in a guest. */
export function lightResponseClass(Native: typeof Response): typeof Response {
  const isPlain = (b: unknown): b is PlainBody =>
    b == null || typeof b === "string" || b instanceof Uint8Array || b instanceof ArrayBuffer;

  class Light {
    #body: PlainBody = null;
    #status = 200;
    #init: ResponseInit | undefined;
    #defaultType: string | undefined;
    #headers: Headers | undefined;
    #native: Response | undefined;

    static [Symbol.hasInstance](x: unknown): boolean {
      return x instanceof Native || (typeof x === "object" && x !== null && PARTS in x);
    }

    static json(data: unknown, init?: ResponseInit): Response {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError("Response.json: the data is not JSON serializable");
      const r = new Light(text, init);
      r.#defaultType = "application/json";
      return r as unknown as Response;
    }

    static error(): Response {
      return Native.error();
    }

    static redirect(url: string | URL, status?: number): Response {
      return Native.redirect(url, status);
    }

    constructor(body?: BodyInit | null, init?: ResponseInit) {
      // anything but a plain body (a stream, a Blob, form data) is the runtime's own Response
      if (!isPlain(body)) return new Native(body, init) as unknown as Light;
      const status = init?.status === undefined ? 200 : Number(init.status);
      // the checks the runtime's constructor makes, so a bad Response still throws where it is made
      if (!Number.isInteger(status) || status < 200 || status > 599) {
        throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive (got ${status})`);
      }
      if (body != null && NULL_BODY_STATUS.has(status)) {
        throw new TypeError(`Response constructor: a ${status} response cannot have a body`);
      }
      this.#body = body ?? null;
      this.#status = status;
      this.#init = init;
      this.#defaultType = typeof body === "string" ? TEXT : undefined;
    }

    [PARTS](): LightParts | undefined {
      if (this.#native) return undefined; // the real one took over (its body may be read already)
      const headers = this.#headers ? ([...this.#headers] as HeaderPairs) : plainHeaders(this.#init?.headers);
      if (!headers) return undefined;
      if (this.#defaultType && !this.#headers && !headers.some(([k]) => k === "content-type")) {
        headers.push(["content-type", this.#defaultType]);
      }
      return { status: this.#status, statusText: this.statusText, headers, body: bytesOf(this.#body) };
    }

    #real(): Response {
      this.#native ??= new Native(this.#body as BodyInit | null, { status: this.status, statusText: this.statusText, headers: this.headers });
      return this.#native;
    }

    get status(): number {
      return this.#status;
    }
    get statusText(): string {
      return this.#init?.statusText ?? "";
    }
    get ok(): boolean {
      return this.status >= 200 && this.status < 300;
    }
    get headers(): Headers {
      if (!this.#headers) {
        this.#headers = new Headers(this.#init?.headers);
        if (this.#defaultType && !this.#headers.has("content-type")) this.#headers.set("content-type", this.#defaultType);
      }
      return this.#headers;
    }
    get type(): ResponseType {
      return "default";
    }
    get url(): string {
      return "";
    }
    get redirected(): boolean {
      return false;
    }
    get body(): ReadableStream<Uint8Array> | null {
      return this.#real().body;
    }
    get bodyUsed(): boolean {
      return this.#native?.bodyUsed ?? false;
    }
    arrayBuffer(): Promise<ArrayBuffer> {
      return this.#real().arrayBuffer();
    }
    blob(): Promise<Blob> {
      return this.#real().blob();
    }
    bytes(): Promise<Uint8Array> {
      return (this.#real() as Response & { bytes(): Promise<Uint8Array> }).bytes();
    }
    formData(): Promise<FormData> {
      return this.#real().formData();
    }
    json(): Promise<unknown> {
      return this.#real().json();
    }
    text(): Promise<string> {
      return this.#real().text();
    }
    clone(): Response {
      return this.#real().clone();
    }
  }
  // `x instanceof Response` for a light one, and Response.prototype methods found where expected
  Object.setPrototypeOf(Light.prototype, Native.prototype);
  return Light as unknown as typeof Response;
}

/**
 * ResponseInit headers as lower-cased pairs, without building a Headers object. Undefined when a
 * name or value is one the runtime would refuse: the real Response then reports it.
 */
function plainHeaders(init: HeadersInit | undefined): HeaderPairs | undefined {
  if (init === undefined) return [];
  if (init instanceof Headers) return [...init] as HeaderPairs;
  const pairs: unknown[][] = Symbol.iterator in init ? Array.from(init as Iterable<unknown[]>) : Object.entries(init);
  const out: HeaderPairs = [];
  for (const pair of pairs) {
    if (pair.length !== 2) return undefined;
    const name = String(pair[0]);
    const value = String(pair[1]).replace(HTTP_WHITESPACE, "");
    if (!TOKEN.test(name) || !VALUE.test(value)) return undefined;
    out.push([name.toLowerCase(), value]);
  }
  return out;
}

/** The body as an ArrayBuffer of its own: bytes are copied, as the runtime's Response copies them. */
function bytesOf(b: PlainBody): Uint8Array | null {
  if (b === null) return null;
  if (typeof b === "string") return encoder.encode(b);
  return (b instanceof ArrayBuffer ? new Uint8Array(b) : b).slice();
}
