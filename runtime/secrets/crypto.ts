/**
 * Sealing secret values at rest: AES-256-GCM through WebCrypto (`crypto.subtle`), the same code
 * on Node, Bun and Deno. Each value gets a fresh 96-bit nonce, and its name and function are the
 * additional authenticated data, so a sealed value moved to another name in the store does not
 * open. The key comes from `--secrets-key-file` (read by the adapter, which checks who may read
 * the file): one key per line, 64 hex digits or base64 of 32 bytes; the first line seals, the
 * others (older keys) only open, so a key can be replaced without losing what it sealed.
 */
import { decodeBase64, encodeBase64 } from "../deploy/base64.ts";
import { sha256Hex } from "../deploy/model.ts";
import { LanesError } from "../errors.ts";
import { describeSecret, type SecretRecord } from "./model.ts";

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const MAKE_ONE = "make one with: (umask 077; openssl rand -hex 32 > FILE)";
const encoder = new TextEncoder();

export class SecretsKey {
  private constructor(
    /** A fingerprint of the key (not the key): kept with each sealed value, shown in messages. */
    readonly id: string,
    private readonly key: CryptoKey,
  ) {}

  /**
   * The keys in a key file's text, the sealing key first. `source` names the file in errors;
   * no error ever quotes the file's content.
   */
  static async parse(text: string, source: string): Promise<SecretsKey[]> {
    const keys: SecretsKey[] = [];
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === "" || line.startsWith("#")) continue;
      const at = `${source}:${i + 1}`;
      const raw = /^[0-9a-fA-F]+$/.test(line) && line.length % 2 === 0 ? hexBytes(line) : decodeBase64(line);
      if (!raw) throw new LanesError("invalid_flag", `${at}: is not a key (a key is 64 hex digits, or base64 of 32 bytes; ${MAKE_ONE})`);
      if (raw.byteLength !== KEY_BYTES) {
        throw new LanesError("invalid_flag", `${at}: the key is ${raw.byteLength} bytes; AES-256 needs ${KEY_BYTES} (64 hex digits; ${MAKE_ONE})`);
      }
      const id = (await sha256Hex(concat(encoder.encode("lanes secrets key id\0"), raw))).slice(0, 16);
      if (keys.some((k) => k.id === id)) throw new LanesError("invalid_flag", `${at}: the same key is given twice`);
      const key = await crypto.subtle.importKey("raw", raw as Uint8Array<ArrayBuffer>, "AES-GCM", false, ["encrypt", "decrypt"]);
      raw.fill(0);
      keys.push(new SecretsKey(id, key));
    }
    if (keys.length === 0) throw new LanesError("invalid_flag", `${source}: holds no key (${MAKE_ONE})`);
    return keys;
  }

  /** Seal `value` for the secret `name` of `fn` (null: every function). */
  async seal(name: string, fn: string | null, value: string): Promise<Pick<SecretRecord, "keyId" | "iv" | "data">> {
    const iv = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const data = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad(name, fn) }, this.key, encoder.encode(value));
    return { keyId: this.id, iv: encodeBase64(iv), data: encodeBase64(new Uint8Array(data)) };
  }

  /** The value sealed in `record` (which this key must have sealed). */
  async open(record: SecretRecord): Promise<string> {
    const iv = decodeBase64(record.iv);
    const data = decodeBase64(record.data);
    const damaged = () =>
      new LanesError("internal", `${describeSecret(record.name, record.function)}: its sealed value does not open with key ${this.id} (the stored record was changed or damaged)`);
    if (!iv || !data || iv.byteLength !== NONCE_BYTES) throw damaged();
    try {
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: iv as Uint8Array<ArrayBuffer>, additionalData: aad(record.name, record.function) },
        this.key,
        data as Uint8Array<ArrayBuffer>,
      );
      return new TextDecoder("utf-8", { fatal: true }).decode(plain);
    } catch {
      throw damaged();
    }
  }
}

function aad(name: string, fn: string | null): Uint8Array<ArrayBuffer> {
  return encoder.encode(`lanes secret\0${fn ?? "*"}\0${name}`);
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}
