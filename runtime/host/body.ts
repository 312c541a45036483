/**
 * Reads a request body without ever reading past `limit` bytes. A Content-Length over the limit
 * is refused before a byte is read; a body without one (chunked) is refused as soon as it
 * passes the limit, and the rest of the upload is not read. A body with a Content-Length is
 * read straight into one buffer of that size (no second copy).
 */
import { LanesError } from "../errors.ts";

export async function readBody(req: Request, limit: number, name: string): Promise<ArrayBuffer | null> {
  const tooLarge = () =>
    new LanesError("payload_too_large", `request body is over the ${limit}-byte limit of function "${name}"`);
  const declared = req.headers.get("content-length");
  const length = declared === null ? NaN : Number(declared);
  if (length > limit) throw tooLarge();
  // A request has a body when it says so: a Content-Length (0 too: the function's request.body
  // is then an empty stream, as in-process) or Transfer-Encoding (RFC 9112, 6.3). Servers
  // differ in what Request.body they give one that has neither.
  if (declared === null && !req.headers.has("transfer-encoding")) return null;
  if (length === 0) return new ArrayBuffer(0);
  if (!req.body) return null;
  const reader = req.body.getReader();
  const into = Number.isSafeInteger(length) ? new Uint8Array(length) : undefined;
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    if (into && size + value.byteLength > into.byteLength) {
      await reader.cancel().catch(() => {});
      throw new LanesError("bad_request", `request body is longer than its Content-Length (${length})`);
    }
    if (into) into.set(value, size);
    else parts.push(value);
    size += value.byteLength;
  }
  if (size === 0) return new ArrayBuffer(0);
  if (into) return size === into.byteLength ? into.buffer : into.slice(0, size).buffer;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out.buffer;
}
