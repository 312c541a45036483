/** Reading the admin API's request bodies: a size and time limit, JSON, known fields only. */
import type { Exchange } from "../../adapters/types.ts";
import { LanesError } from "../errors.ts";
import { readBody } from "./body.ts";

/** How long an upload may take to arrive (a slow client must not hold the API forever). */
const UPLOAD_MS = 120_000;

export async function uploadBody(ex: Exchange, limit: number): Promise<Uint8Array | null> {
  try {
    return await readBody(ex, limit, "admin API", Date.now() + UPLOAD_MS);
  } catch (e) {
    if (e instanceof LanesError && e.code === "payload_too_large") {
      throw new LanesError("payload_too_large", `body: over this host's limit of ${limit} bytes (lanes start --max-upload-mb)`);
    }
    if (e instanceof LanesError && e.code === "request_timeout") {
      throw new LanesError("request_timeout", `body: did not arrive within ${UPLOAD_MS / 1000} s`);
    }
    throw e;
  }
}

export function parseJson(bytes: Uint8Array | null): unknown {
  if (!bytes) return {};
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new LanesError("bad_request", "body: must be JSON (UTF-8)");
  }
}

export function fields(body: unknown, allowed: string[]): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new LanesError("bad_request", "body: must be a JSON object");
  for (const k of Object.keys(body)) {
    if (!allowed.includes(k)) throw new LanesError("bad_request", `${k}: unknown field (allowed: ${allowed.join(", ")})`);
  }
  return body as Record<string, unknown>;
}
