/**
 * The console's sessions: logging in exchanges the admin token for a random session id, kept
 * by the browser in an HttpOnly cookie; the token itself is never stored anywhere but the
 * host's token file. Sessions live in the host's memory only (a restart logs everyone out),
 * are looked up by the SHA-256 of their id (a lookup's timing says nothing about the id), end
 * after IDLE_MS without a request or MAX_AGE_MS in all, and are at most MAX_SESSIONS (the
 * least recently used goes first), so a flood of logins cannot grow memory.
 */
export interface Session {
  /** The name of the token that logged in (recorded as the author of what it deploys). */
  name: string;
  /** Sent back with every state-changing request (x-lanes-csrf header or csrf form field). */
  csrf: string;
  createdAt: number;
  lastSeen: number;
  /** Logged out, or pushed out by newer sessions. */
  ended: boolean;
}

export interface SessionOptions {
  idleMs: number;
  maxAgeMs: number;
  maxSessions: number;
  now(): number;
}

export const DEFAULT_SESSIONS: SessionOptions = { idleMs: 30 * 60_000, maxAgeMs: 12 * 3600_000, maxSessions: 100, now: () => Date.now() };

export const COOKIE = "lanes_console";

export class SessionStore {
  /** By the hex SHA-256 of the session id; the Map's order is least recently used first. */
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly o: SessionOptions = DEFAULT_SESSIONS) {}

  /** A new session for the token `name`: its id (for the cookie) and the session. */
  async create(name: string): Promise<{ id: string; session: Session }> {
    const id = randomToken();
    const now = this.o.now();
    const session: Session = { name, csrf: randomToken(), createdAt: now, lastSeen: now, ended: false };
    this.sessions.set(await digest(id), session);
    while (this.sessions.size > this.o.maxSessions) this.end(this.sessions.keys().next().value!);
    return { id, session };
  }

  /** The live session with this id, seen now; undefined when there is none or it has expired. */
  async get(id: string | undefined): Promise<Session | undefined> {
    if (!id || id.length > 100) return undefined;
    const key = await digest(id);
    const s = this.sessions.get(key);
    if (!s) return undefined;
    const now = this.o.now();
    if (!this.alive(s, now)) {
      this.end(key);
      return undefined;
    }
    s.lastSeen = now;
    this.sessions.delete(key); // re-inserted last: most recently used
    this.sessions.set(key, s);
    return s;
  }

  /** Still valid, without counting as activity (a live stream checks this every tick). */
  alive(s: Session, now = this.o.now()): boolean {
    return !s.ended && now - s.lastSeen < this.o.idleMs && now - s.createdAt < this.o.maxAgeMs;
  }

  /** Log out. */
  async delete(id: string | undefined): Promise<void> {
    if (id) this.end(await digest(id));
  }

  private end(key: string): void {
    const s = this.sessions.get(key);
    if (s) s.ended = true;
    this.sessions.delete(key);
  }

  /** How long a new session lasts at most, in seconds: the cookie's Max-Age. */
  get maxAgeSeconds(): number {
    return Math.floor(this.o.maxAgeMs / 1000);
  }
}

/**
 * Cookies of one name a request may send that are looked up (a SHA-256 each). A browser sends a
 * cookie of a longer path first: one set by a function for each parent folder of a console path
 * (/_lanes/ui/, /_lanes/ui/api, /_lanes/ui/api/, ... /_lanes/ui/api/functions/NAME) comes before
 * the session's, seven at most, twice that with two parent domains.
 */
const MAX_COOKIES = 16;

/** The values of the cookies named `name` in a Cookie header, in the order sent (at most MAX_COOKIES). */
export function cookieValues(header: string | undefined, name: string): string[] {
  const values: string[] = [];
  for (const pair of (header ?? "").split(";")) {
    const at = pair.indexOf("=");
    if (at < 0 || pair.slice(0, at).trim() !== name) continue;
    values.push(pair.slice(at + 1).trim());
    if (values.length === MAX_COOKIES) break;
  }
  return values;
}

/** Equal strings, compared without an early exit (for the CSRF token). */
export function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ (y[i] ?? 0);
  return diff === 0;
}

/** 32 random bytes, base64url. */
function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function digest(text: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}
