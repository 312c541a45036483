/**
 * Secrets: values a function gets in its `env` that live apart from its code. The manifest
 * names them (`"env": { "API_KEY": { "secret": "API_KEY" } }`); the host keeps their values,
 * encrypted at rest (crypto.ts), in its deploy store; `lanes dev` reads them from local files.
 *
 * A secret is set for every function (`lanes secret set NAME`) or for one
 * (`--function f`): a function takes its own one first, else the one for every function.
 */
import { LanesError } from "../errors.ts";
import { ENV_VALUE_MAX_BYTES, ENV_VALUE_RULE, NAME_PATTERN, NAME_RULE, SECRET_NAME_PATTERN } from "../manifest/schema.ts";

export const SECRET_NAME = new RegExp(SECRET_NAME_PATTERN);
/** A function's own secrets are kept under its name (a file name in the folder store: NAME_PATTERN bounds its length). */
const FUNCTION_NAME = new RegExp(NAME_PATTERN);
/** A value travels in a function's environment: text, and small (ENV_VALUE_MAX_BYTES). */
export const MAX_SECRET_BYTES = ENV_VALUE_MAX_BYTES;

/** A secret as the store keeps it: the value only sealed (AES-GCM), never in the clear. */
export interface SecretRecord {
  name: string;
  /** The one function it is for; null: every function. */
  function: string | null;
  /** Which key sealed it (crypto.ts, keyId): a host with another key says so instead of failing to decrypt. */
  keyId: string;
  /** base64 of the 12-byte AES-GCM nonce, fresh for every value. */
  iv: string;
  /** base64 of the ciphertext and its tag. */
  data: string;
  /** ISO 8601: when it was last set. */
  updatedAt: string;
  /** The admin token's name that set it. */
  author: string;
}

/** What `lanes secret list` shows of a secret: never its value. */
export type SecretInfo = Pick<SecretRecord, "name" | "function" | "updatedAt" | "author">;

/** The key of a secret in maps: `*` for every function. */
export function secretKey(name: string, fn: string | null): string {
  return `${fn ?? "*"}/${name}`;
}

/** "API_KEY" or "API_KEY (for function api)", for messages. */
export function describeSecret(name: string, fn: string | null): string {
  return fn === null ? `secret ${name}` : `secret ${name} of function ${fn}`;
}

export function checkSecretName(name: unknown, field = "name"): string {
  if (typeof name !== "string" || !SECRET_NAME.test(name)) {
    // the name is not secret, but it could be anything a client sent: shown only when short and plain
    const shown = typeof name === "string" && /^[\x20-\x7e]{0,40}$/.test(name) ? ` (got ${JSON.stringify(name)})` : "";
    throw new LanesError("bad_request", `${field}: a secret name is a letter or _, then letters, digits or _, at most 128 in all${shown}`);
  }
  return name;
}

export function checkFunctionName(fn: unknown, field = "function"): string | null {
  if (fn === undefined || fn === null) return null;
  if (typeof fn !== "string" || !FUNCTION_NAME.test(fn)) {
    throw new LanesError("bad_request", `${field}: must be a function name (a function name ${NAME_RULE})`);
  }
  return fn;
}

/** A value a function can get in its env. Errors never quote it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function checkSecretValue(value: unknown, field = "value"): string {
  if (typeof value !== "string") throw new LanesError("bad_request", `${field}: must be a string`);
  if (value.length === 0) throw new LanesError("bad_request", `${field}: is empty (to remove a secret, delete it)`);
  if (value.includes("\0")) throw new LanesError("bad_request", `${field}: ${ENV_VALUE_RULE}`);
  // sealing encodes it as UTF-8, which turns a lone surrogate into U+FFFD: the host that took it and the others would hold different values
  if (LONE_SURROGATE.test(value)) throw new LanesError("bad_request", `${field}: must be UTF-8 text (it holds a lone surrogate, half of a UTF-16 pair, which UTF-8 cannot hold)`);
  const bytes = new TextEncoder().encode(value).byteLength;
  if (bytes > MAX_SECRET_BYTES) throw new LanesError("bad_request", `${field}: is ${bytes} bytes, over the limit of ${MAX_SECRET_BYTES}`);
  return value;
}
