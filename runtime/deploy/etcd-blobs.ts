/**
 * Files in etcd, content-addressed: `blobs/<sha256>` names the chunks (`chunks/<sha256>`, up to
 * CHUNK_BYTES each) that make a file, as etcd refuses requests over 1.5 MiB by default. A chunk
 * or a blob already stored is not written again; a blob read back is checked against its hash.
 */
import { LanesError } from "../errors.ts";
import { sha256Hex } from "./model.ts";
import { parseJson, type EtcdClient } from "./etcd-client.ts";

const HASH = /^[0-9a-f]{64}$/;
export const CHUNK_BYTES = 512 * 1024;

export class EtcdBlobs {
  /** `key`: the full key of a name under the store's prefix; `location` names the store in errors. */
  constructor(
    private readonly client: EtcdClient,
    private readonly key: (rest: string) => string,
    private readonly location: string,
  ) {}

  /** Store `bytes`; `written` is false when the blob was there already. */
  async put(bytes: Uint8Array): Promise<{ hash: string; written: boolean }> {
    const hash = await sha256Hex(bytes);
    const blob = this.key(`blobs/${hash}`);
    if (await this.client.has(blob)) return { hash, written: false };
    const chunks: string[] = [];
    for (let at = 0; at < bytes.length || at === 0; at += CHUNK_BYTES) {
      const part = bytes.subarray(at, at + CHUNK_BYTES);
      const c = await sha256Hex(part);
      const key = this.key(`chunks/${c}`);
      if (!(await this.client.has(key))) await this.client.put(key, part);
      chunks.push(c);
      if (bytes.length === 0) break;
    }
    await this.client.put(blob, JSON.stringify({ size: bytes.length, chunks }));
    return { hash, written: true };
  }

  async get(hash: string): Promise<Uint8Array> {
    if (!HASH.test(hash)) throw new LanesError("internal", `store ${this.location}: ${JSON.stringify(hash)} is not a blob hash`);
    const { kv } = await this.client.get(this.key(`blobs/${hash}`));
    if (!kv) throw new LanesError("internal", `store ${this.location}: blob ${hash} is missing`);
    const { size, chunks } = parseJson<{ size: number; chunks: string[] }>(kv, this.location);
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      const part = (await this.client.get(this.key(`chunks/${c}`))).kv?.value;
      if (!part || at + part.length > size) throw new LanesError("internal", `store ${this.location}: blob ${hash} is damaged (chunk ${c} is missing or too long)`);
      bytes.set(part, at);
      at += part.length;
    }
    if (at !== size || (await sha256Hex(bytes)) !== hash) {
      throw new LanesError("internal", `store ${this.location}: blob ${hash} is damaged (its bytes no longer match their hash)`);
    }
    return bytes;
  }
}
