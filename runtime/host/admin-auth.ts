/**
 * Admin tokens: who may deploy, and who may read /_lanes/functions and /_lanes/metrics on a
 * host other machines can reach. A token is compared in constant time (both sides hashed with
 * SHA-256, every stored token compared in full, no early exit), so its bytes cannot be guessed
 * one at a time from response times. An address that keeps presenting wrong tokens is answered
 * 429 for a while that doubles with each further failure; a right token does not lift it (else
 * a guess that hit would show). Behind a reverse proxy, `--trust-proxy` counts each client apart
 * (client-address.ts), so a stranger's wrong tokens block the stranger, not the operator.
 * Token values are never logged or echoed.
 */
import { LanesError } from "../errors.ts";
import { clientAddress, NO_PROXY, unmapped, type TrustedProxies } from "./client-address.ts";

export interface Token {
  /** Recorded as the author of what it deploys. */
  name: string;
  digest: Uint8Array;
}

export const MIN_TOKEN_LENGTH = 16;
/**
 * A token travels in an Authorization header, which holds bytes, not text: one with a character
 * past ASCII or a control character cannot be sent by curl or fetch (fetch refuses it,
 * "Cannot convert argument to a ByteString"), so the host would keep a token nobody can present.
 */
export const TOKEN_CHARS_RULE = "a token may hold only printable ASCII characters, no spaces (it travels in an HTTP header; try: openssl rand -hex 32)";
export const tokenCharsOk = (value: string): boolean => /^[\x21-\x7e]+$/.test(value);
const NAME = /^[A-Za-z0-9_.@-]{1,64}$/;
const encoder = new TextEncoder();

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/**
 * Tokens from a token file: one per line, `TOKEN` (named "admin") or `NAME TOKEN`; blank
 * lines and lines starting with # are skipped. `source` names the file in errors (never a value).
 */
export async function parseTokens(text: string, source: string): Promise<Token[]> {
  const tokens: Token[] = [];
  const names = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    const at = `${source}:${i + 1}`;
    if (fields.length > 2) throw new LanesError("invalid_flag", `${at}: a line holds TOKEN or NAME TOKEN (got ${fields.length} fields)`);
    const [name, value] = fields.length === 2 ? [fields[0]!, fields[1]!] : ["admin", fields[0]!];
    if (!NAME.test(name)) throw new LanesError("invalid_flag", `${at}: a token name may hold letters, digits and _ . @ - (at most 64)`);
    if (names.has(name)) throw new LanesError("invalid_flag", `${at}: the token name "${name}" is used twice`);
    if (value.length < MIN_TOKEN_LENGTH) {
      throw new LanesError("invalid_flag", `${at}: a token must be at least ${MIN_TOKEN_LENGTH} characters long (try: openssl rand -hex 32)`);
    }
    if (!tokenCharsOk(value)) throw new LanesError("invalid_flag", `${at}: ${TOKEN_CHARS_RULE}`);
    names.add(name);
    tokens.push({ name, digest: await digest(value) });
  }
  if (tokens.length === 0) throw new LanesError("invalid_flag", `${source}: holds no token`);
  return tokens;
}

export interface ThrottleOptions {
  /** Wrong tokens from one address before it is answered 429. */
  maxFailures: number;
  /** Failures older than this are forgotten. */
  windowMs: number;
  /** The first block; each further failure doubles it, up to maxBlockMs. */
  blockMs: number;
  maxBlockMs: number;
  /** Addresses remembered at most (the oldest is forgotten first), so a flood cannot grow memory. */
  maxAddresses: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = { maxFailures: 5, windowMs: 60_000, blockMs: 1000, maxBlockMs: 60_000, maxAddresses: 10_000 };

interface Strikes {
  failures: number;
  last: number;
  blockedUntil: number;
}

/** Who is behind a request: its peer, and what a proxy in front says (client-address.ts). */
export interface Caller {
  remoteAddress(): string;
  header(name: string): string | undefined;
}

export class AdminAuth {
  private readonly strikes = new Map<string, Strikes>();
  private warned = false;

  constructor(
    private readonly tokens: Token[],
    private readonly o: ThrottleOptions = DEFAULT_THROTTLE,
    private readonly proxies: { trusted: TrustedProxies; warn?: (message: string) => void } = { trusted: NO_PROXY },
  ) {}

  get enabled(): boolean {
    return this.tokens.length > 0;
  }

  /** The address whose wrong tokens a request counts toward: the client's behind a trusted proxy (`--trust-proxy`). */
  client(caller: Caller): string {
    return clientAddress(caller.remoteAddress(), caller.header("x-forwarded-for"), this.proxies.trusted);
  }

  /** check() for the address `caller` is counted for; names `--trust-proxy` when a proxy's clients share one. */
  async checkCaller(authorization: string | null, caller: Caller, what: string): Promise<string> {
    // as --trust-proxy takes it, and as the throttle names it: IPv4, also on a dual-stack socket
    const peer = unmapped(caller.remoteAddress());
    const shared = caller.header("x-forwarded-for") !== undefined && !this.proxies.trusted.has(peer);
    try {
      return await this.check(authorization, this.client(caller), what);
    } catch (e) {
      if (!shared || !(e instanceof LanesError) || e.code !== "rate_limited") throw e;
      const hint = `if ${peer} is your reverse proxy, all its clients share its address: start the host with --trust-proxy ${peer} to count each apart`;
      if (!this.warned) this.proxies.warn?.(`admin tokens: wrong tokens blocked ${peer}, which sends X-Forwarded-For: ${hint}`);
      this.warned = true;
      throw new LanesError("rate_limited", `${e.message} (${hint})`, { headers: e.headers });
    }
  }

  /** The token's name, or throws 401 / 429. `what` says what was asked for, in the message. */
  async check(authorization: string | null, address: string | undefined, what: string): Promise<string> {
    const key = address ?? "unknown";
    const now = Date.now();
    const s = this.strikes.get(key);
    if (s && now - s.last > this.o.windowMs && s.blockedUntil <= now) this.strikes.delete(key);
    else if (s && s.blockedUntil > now) {
      const wait = Math.ceil((s.blockedUntil - now) / 1000);
      throw new LanesError("rate_limited", `too many wrong tokens from ${key}; try again in ${wait} s`, { headers: { "retry-after": String(wait) } });
    }
    if (!this.enabled) {
      throw unauthorized(`${what} needs an admin token, and this host has none (start it with --admin-token-file FILE or LANES_ADMIN_TOKEN)`);
    }
    const m = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization ?? "");
    if (!m) throw unauthorized(`${what} needs an admin token: send "Authorization: Bearer <token>"`);
    const presented = await digest(m[1]!);
    let found: string | undefined;
    for (const t of this.tokens) {
      let diff = 0;
      for (let i = 0; i < presented.length; i++) diff |= presented[i]! ^ t.digest[i]!;
      if (diff === 0 && found === undefined) found = t.name;
    }
    if (found !== undefined) {
      this.strikes.delete(key);
      return found;
    }
    this.strike(key, now);
    throw unauthorized(`${what}: the token is not valid`, "invalid_token");
  }

  private strike(key: string, now: number) {
    const s = this.strikes.get(key) ?? { failures: 0, last: now, blockedUntil: 0 };
    s.failures++;
    s.last = now;
    if (s.failures >= this.o.maxFailures) {
      const blockMs = Math.min(this.o.maxBlockMs, this.o.blockMs * 2 ** (s.failures - this.o.maxFailures));
      s.blockedUntil = now + blockMs;
      // one line per block, not per wrong token: someone guessing tokens shows in the log (a 401
      // or 429 gets no access-log line: lanes' own routes log only their 404s and 405s)
      this.proxies.warn?.(`admin tokens: ${s.failures} wrong tokens in a row from ${key}; it is answered 429 for ${Math.ceil(blockMs / 1000)} s`);
    }
    this.strikes.delete(key); // re-inserted last: the Map's order is then oldest activity first
    this.strikes.set(key, s);
    while (this.strikes.size > this.o.maxAddresses) this.strikes.delete(this.strikes.keys().next().value!);
  }
}

function unauthorized(message: string, error?: string): LanesError {
  return new LanesError("unauthorized", message, {
    headers: { "www-authenticate": `Bearer realm="lanes"${error ? `, error="${error}"` : ""}` },
  });
}

/** Listening only on a loopback address: /_lanes/functions and /_lanes/metrics stay open. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\.\d+\.\d+\.\d+$/.test(h);
}
