/**
 * All of stdin, for a command that takes a secret there (`lanes secret set`): never from a
 * terminal (undefined), at most `limit` bytes. The chunks are zeroed once copied.
 */
export async function readStdin(limit: number): Promise<Uint8Array | undefined> {
  if (process.stdin.isTTY) return undefined;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) throw new Error(`stdin holds more than ${limit} bytes`);
    chunks.push(chunk);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
    c.fill(0);
  }
  return out;
}
