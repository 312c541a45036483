/** Reads a request body without ever holding more than `limit` bytes. */
import { LanesError } from "../errors.ts";

export async function readBody(req: Request, limit: number, name: string): Promise<ArrayBuffer | null> {
  const tooLarge = () =>
    new LanesError("payload_too_large", `request body is over the ${limit}-byte limit of function "${name}"`);
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge();
  if (!req.body) return null;
  const reader = req.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    parts.push(value);
  }
  if (size === 0) return null;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out.buffer;
}
