/**
 * Bun guests: reading a Response back through its body's stream (a reader, and a race against a
 * few microtasks to tell a ready body from a slow one) cost 4.6-4.9 µs a response, where
 * `response.bytes()` takes 0.6-0.8 µs (`new Response("hello")`, 200,000 in a row, Bun 1.4.5).
 * Only a body made from a string or bytes is known to be all there, so the guest's `Response`
 * notes the responses it makes from one; the guest reads those with `bytes()`, the platform's
 * own read, which fails as the stream would for a body that was used or locked (`bodyUsed` is
 * checked first, so a body the function began to read takes the stream's way). Anything else
 * (a stream, a Blob, FormData, `Response.json`) is read through its stream as before.
 */
import { afterEachResponse } from "../runtime/guest/response-hook.ts";

const madeWithBytes = new WeakSet<Response>();

function isBytes(body: unknown): boolean {
  if (body === undefined || body === null || typeof body === "string" || body instanceof ArrayBuffer) return true;
  return ArrayBuffer.isView(body) && body.buffer instanceof ArrayBuffer;
}

/** Make `globalThis.Response` note the responses made from a string or bytes (before the function's module loads). */
export function noteStaticBodies(): void {
  afterEachResponse((res, body) => {
    if (isBytes(body)) madeWithBytes.add(res);
  });
}

/** The whole body of a response made from a string or bytes and not read yet, else undefined. */
export function staticBody(res: Response): Promise<Uint8Array> | undefined {
  if (!madeWithBytes.has(res) || res.bodyUsed) return undefined;
  return res.bytes();
}
