/** The CLI's side of the admin API: the host URL, the token, one JSON call. */
import { hostEnv } from "../../adapters/env.ts";
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { isLanesError, LanesError } from "../errors.ts";
import { TOKEN_CHARS_RULE, tokenCharsOk } from "../host/admin-auth.ts";
import type { Parsed } from "./args.ts";

type Method = "GET" | "POST" | "PUT" | "DELETE";

export interface Admin {
  base: string;
  call<T>(method: Method, path: string, body?: string | object): Promise<T>;
}

/** `--to URL` and the token (`--token-file F`, else LANES_TOKEN). */
export async function adminFor(adapter: RuntimeAdapter, args: Parsed, command: string): Promise<Admin> {
  const to = args.flags.to;
  if (typeof to !== "string") throw new LanesError("invalid_flag", `lanes ${command}: --to URL is required (the host, e.g. --to http://127.0.0.1:8787)`);
  let url: URL;
  try {
    url = new URL(to);
  } catch {
    throw new LanesError("invalid_flag", `lanes ${command}: --to must be a URL such as http://127.0.0.1:8787 (got ${JSON.stringify(to)})`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new LanesError("invalid_flag", `lanes ${command}: --to must be an http:// or https:// URL (got ${JSON.stringify(to)})`);
  }
  // the API's path is added to it: after a query or fragment it was no path, and the host said "no admin API"
  if (url.search || url.hash || to.endsWith("?") || to.endsWith("#")) {
    throw new LanesError("invalid_flag", `lanes ${command}: --to must be the host's URL without a query or fragment, e.g. http://127.0.0.1:8787 (got ${JSON.stringify(to)})`);
  }
  const token = await readToken(adapter, args, command);
  const base = url.href.replace(/\/+$/, "");
  return {
    base,
    async call<T>(method: Method, path: string, body?: string | object): Promise<T> {
      let res: Response;
      try {
        res = await fetch(`${base}/_lanes/api/${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
          ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
        });
      } catch (e) {
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        throw new LanesError("unavailable", `lanes ${command}: cannot reach ${base}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
      }
      const text = await res.text();
      let json: { error?: { code: string; message: string } } & Record<string, unknown>;
      try {
        json = JSON.parse(text);
      } catch {
        throw new LanesError("unavailable", `lanes ${command}: ${base} answered ${res.status} without JSON: ${text.slice(0, 200)}`);
      }
      if (!res.ok) {
        const err = json.error;
        if (res.status === 404 && err?.code === "not_found" && /no function is routed/.test(err.message)) {
          throw new AdminError(res.status, "not_found", `${base} has no admin API: start it with --data DIR and --admin-token-file FILE (or LANES_ADMIN_TOKEN)`);
        }
        throw new AdminError(res.status, err?.code ?? "internal", err?.message ?? `${res.status} ${res.statusText}`);
      }
      return json as T;
    },
  };
}

/** An error the host answered: its status, code and message, for `--json` output and the exit code. */
export class AdminError extends LanesError {
  constructor(
    readonly httpStatus: number,
    readonly hostCode: string,
    message: string,
  ) {
    super("bad_request", message);
  }
}

async function readToken(adapter: RuntimeAdapter, args: Parsed, command: string): Promise<string> {
  const file = args.flags["token-file"];
  let token: string | undefined;
  if (typeof file === "string") {
    const text = await adapter.sys.readText(file).catch(() => {
      throw new LanesError("invalid_flag", `lanes ${command}: --token-file ${file}: cannot be read`);
    });
    // the file may hold NAME TOKEN lines like the host's token file: take the first token
    const line = text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l && !l.startsWith("#"));
    token = line?.split(/\s+/).pop();
    if (!token) throw new LanesError("invalid_flag", `lanes ${command}: --token-file ${file}: holds no token`);
  } else {
    token = hostEnv("LANES_TOKEN")?.trim();
  }
  if (!token) throw new LanesError("invalid_flag", `lanes ${command}: no admin token: pass --token-file FILE or set LANES_TOKEN`);
  // else fetch refuses the header and the command said "cannot reach" the host
  if (!tokenCharsOk(token)) throw new LanesError("invalid_flag", `lanes ${command}: ${typeof file === "string" ? `--token-file ${file}` : "LANES_TOKEN"}: ${TOKEN_CHARS_RULE}`);
  return token;
}

/** A failed admin command's `--json` answer: the host's code and status when the host refused it. */
export function jsonError(e: unknown): string {
  const error =
    e instanceof AdminError
      ? { code: e.hostCode, status: e.httpStatus, message: e.message }
      : { code: isLanesError(e) ? e.code : "internal", message: e instanceof Error ? e.message : String(e) };
  return `${JSON.stringify({ error }, null, 2)}\n`;
}

/** The exit code of a failed admin command under `--json`: 2 for a usage error, as without it (main.ts), else 1. */
export function jsonErrorCode(e: unknown): number {
  return isLanesError(e) && e.code === "invalid_flag" ? 2 : 1;
}
