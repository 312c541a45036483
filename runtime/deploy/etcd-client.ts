/**
 * etcd's v3 API through its JSON gateway (https://etcd.io/docs/v3.4/dev-guide/api_grpc_gateway/):
 * plain `fetch` to /v3/kv/*, /v3/lease/* and /v3/watch, the same on every host runtime. Keys and
 * values travel in base64; 64-bit numbers travel as strings (revisions fit a JS number, lease ids
 * do not and stay strings).
 *
 * Several members: a call goes to the one that answered last; when it cannot be reached (or
 * answers "unavailable"), the same call goes to the next one. Every call has a deadline, so an
 * etcd that is away is noticed in seconds, not at the TCP timeout.
 */
import { LanesError } from "../errors.ts";
import { decodeBase64, encodeBase64 } from "./base64.ts";

export interface KeyValue {
  key: string;
  value: Uint8Array;
  modRevision: number;
  createRevision: number;
}

export interface RawKv {
  key: string;
  value?: string;
  mod_revision?: string;
  create_revision?: string;
}

interface Header {
  header?: { revision?: string };
}

export type Compare = { key: string; range_end?: string; result?: "EQUAL" | "LESS" | "GREATER" } & (
  | { target: "MOD"; mod_revision: string }
  | { target: "VERSION"; version: string }
  | { target: "CREATE"; create_revision: string }
);
export type TxnOp =
  | { request_put: { key: string; value: string; lease?: string } }
  | { request_range: { key: string } }
  | { request_delete_range: { key: string; range_end?: string } };

/** etcd answered, with an error of its own (gRPC status `code`). */
export class EtcdAnswer extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** gRPC UNAVAILABLE and DEADLINE_EXCEEDED: that member cannot serve now; another may. */
const RETRY_ELSEWHERE = new Set([4, 14]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const b64key = (key: string) => encodeBase64(encoder.encode(key));
export const b64 = (value: Uint8Array | string) => encodeBase64(typeof value === "string" ? encoder.encode(value) : value);
export const text = (bytes: Uint8Array) => decoder.decode(bytes);

/** A transaction's put of `value` at `key`. */
export function putOp(key: string, value: string): TxnOp {
  return { request_put: { key: b64key(key), value: b64(value) } };
}

/** A key's value as the JSON record it holds; `location` names the store in the error. */
export function parseJson<T>(kv: KeyValue, location: string): T {
  try {
    return JSON.parse(text(kv.value)) as T;
  } catch {
    throw new LanesError("internal", `store ${location}: ${kv.key} is not valid JSON (was it written by hand?)`);
  }
}

/** The smallest key after every key that starts with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): string {
  const bytes = encoder.encode(prefix);
  bytes[bytes.length - 1]!++;
  return encodeBase64(bytes);
}

export function toKv(raw: RawKv): KeyValue {
  return {
    key: text(decodeBase64(raw.key) ?? new Uint8Array()),
    value: decodeBase64(raw.value ?? "") ?? new Uint8Array(),
    modRevision: Number(raw.mod_revision ?? 0),
    createRevision: Number(raw.create_revision ?? 0),
  };
}

export class EtcdClient {
  private current = 0;
  /** Told after each call whether etcd could be reached (the store's reachability). */
  onReach: (ok: boolean, why: string | null) => void = () => {};
  /** Told why etcd refused a write for want of space, and null once a write succeeds again. */
  onFull: (why: string | null) => void = () => {};

  constructor(
    readonly url: string,
    readonly endpoints: string[],
    private readonly timeoutMs = 2000,
  ) {}

  /** The member that answered last. */
  get endpoint(): string {
    return this.endpoints[this.current]!;
  }

  /** POST `body` to `path` on a member that answers; throws `unavailable` when none does. */
  async call<T>(path: string, body: object, timeoutMs = this.timeoutMs): Promise<T & Header> {
    const why: string[] = [];
    for (let i = 0; i < this.endpoints.length; i++) {
      const at = (this.current + i) % this.endpoints.length;
      const endpoint = this.endpoints[at]!;
      let res: Response;
      let answer: { error?: string; message?: string; code?: number } & T & Header;
      try {
        res = await fetch(endpoint + path, { method: "POST", body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
        answer = (await res.json()) as typeof answer;
      } catch (e) {
        why.push(`${hostOf(endpoint)}: ${reason(e, timeoutMs)}`);
        continue;
      }
      if (res.ok && answer.error === undefined) {
        this.current = at;
        this.onReach(true, null);
        return answer;
      }
      const code = answer.code ?? 2;
      const message = answer.message ?? answer.error ?? `${res.status} ${res.statusText}`;
      if (RETRY_ELSEWHERE.has(code)) {
        why.push(`${hostOf(endpoint)}: ${message}`);
        continue;
      }
      this.current = at;
      this.onReach(true, null);
      if (message.includes(NO_SPACE)) throw this.full(`etcd ${hostOf(endpoint)}: ${message}`);
      throw new EtcdAnswer(code, `etcd ${hostOf(endpoint)}: ${message}`);
    }
    const summary = why.join("; ");
    this.onReach(false, summary);
    throw unreachable(this.url, summary);
  }

  async get(key: string): Promise<{ kv: KeyValue | undefined; revision: number }> {
    const r = await this.call<{ kvs?: RawKv[] }>("/v3/kv/range", { key: b64key(key) });
    return { kv: r.kvs?.[0] ? toKv(r.kvs[0]) : undefined, revision: Number(r.header?.revision ?? 0) };
  }

  /** Whether `key` exists (no value is sent back). */
  async has(key: string): Promise<boolean> {
    const r = await this.call<{ count?: string }>("/v3/kv/range", { key: b64key(key), count_only: true });
    return Number(r.count ?? 0) > 0;
  }

  /** Every key under `prefix`, in key order (`descend`: the other way), at most `limit` (0: all). */
  async list(prefix: string, o: { limit?: number; descend?: boolean; keysOnly?: boolean } = {}): Promise<KeyValue[]> {
    return (await this.listAt(prefix, o)).kvs;
  }

  /** `list`, with the store's revision it was read at (`keysOnly`: no values). */
  async listAt(prefix: string, o: { limit?: number; descend?: boolean; keysOnly?: boolean } = {}): Promise<{ kvs: KeyValue[]; revision: number }> {
    const r = await this.call<{ kvs?: RawKv[] }>("/v3/kv/range", {
      key: b64key(prefix),
      range_end: prefixEnd(prefix),
      ...(o.keysOnly ? { keys_only: true } : {}),
      ...(o.limit ? { limit: String(o.limit) } : {}),
      ...(o.descend ? { sort_order: "DESCEND", sort_target: "KEY" } : {}),
    });
    return { kvs: (r.kvs ?? []).map(toKv), revision: Number(r.header?.revision ?? 0) };
  }

  /** Whether there was such a key. */
  async remove(key: string): Promise<boolean> {
    const r = await this.call<{ deleted?: string }>("/v3/kv/deleterange", { key: b64key(key) });
    return Number(r.deleted ?? 0) > 0;
  }

  async put(key: string, value: Uint8Array | string, lease?: string): Promise<number> {
    const r = await this.call<object>("/v3/kv/put", { key: b64key(key), value: b64(value), ...(lease ? { lease } : {}) });
    this.onFull(null);
    return Number(r.header?.revision ?? 0);
  }

  /** One transaction: `success` if every comparison holds, else `failure`. */
  async txn(compare: Compare[], success: TxnOp[], failure: TxnOp[]): Promise<{ succeeded: boolean; revision: number; ranges: KeyValue[][] }> {
    const r = await this.call<{ succeeded?: boolean; responses?: { response_range?: { kvs?: RawKv[] } }[] }>("/v3/kv/txn", {
      compare: compare.map((c) => ({ result: "EQUAL", ...c })),
      success,
      failure,
    });
    if (r.succeeded === true && success.some((op) => "request_put" in op)) this.onFull(null);
    return {
      succeeded: r.succeeded === true,
      revision: Number(r.header?.revision ?? 0),
      ranges: (r.responses ?? []).map((x) => (x.response_range?.kvs ?? []).map(toKv)),
    };
  }

  /** Drop the history before `revision` (every key's, not only the store's): the space it took is used again. */
  async compact(revision: number): Promise<void> {
    await this.call("/v3/kv/compaction", { revision: String(revision), physical: true }, 30_000);
  }

  /** A lease of `ttl` seconds: its id. */
  async grant(ttl: number): Promise<string> {
    const r = await this.call<{ ID?: string }>("/v3/lease/grant", { TTL: String(ttl) });
    if (!r.ID) throw new EtcdAnswer(2, `etcd ${hostOf(this.endpoint)}: granted no lease`);
    return r.ID;
  }

  /** Renew a lease; false when etcd no longer has it (it expired). */
  async keepAlive(id: string): Promise<boolean> {
    const r = await this.call<{ result?: { TTL?: string } }>("/v3/lease/keepalive", { ID: id });
    return Number(r.result?.TTL ?? 0) > 0;
  }

  async revoke(id: string): Promise<void> {
    await this.call("/v3/lease/revoke", { ID: id }).catch(() => {});
  }

  /**
   * Watch `key` (`prefix`: every key under it) from `startRevision`: yields each batch of puts. It ends (throws) when the
   * stream breaks; `compacted` when etcd no longer has that revision (read the key again).
   */
  async *watch(key: string, startRevision: number, signal: AbortSignal, prefix = false): AsyncGenerator<{ kvs: KeyValue[]; deleted: number; revision: number }> {
    const endpoint = this.endpoint;
    const res = await fetch(`${endpoint}/v3/watch`, {
      method: "POST",
      body: JSON.stringify({ create_request: { key: b64key(key), ...(prefix ? { range_end: prefixEnd(key) } : {}), start_revision: String(startRevision) } }),
      signal,
    });
    if (!res.ok || !res.body) throw new Error(`${hostOf(endpoint)}: watch answered ${res.status}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`${hostOf(endpoint)}: the watch stream ended`);
        buffered += value;
        for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (!line) continue;
          const msg = JSON.parse(line) as {
            result?: Header & { events?: { type?: string; kv: RawKv }[]; canceled?: boolean; compact_revision?: string; cancel_reason?: string };
            error?: { message?: string };
          };
          if (msg.error) throw new Error(`${hostOf(endpoint)}: ${msg.error.message ?? "watch error"}`);
          const r = msg.result ?? {};
          if (r.compact_revision && Number(r.compact_revision) > 0) throw new Compacted(Number(r.compact_revision));
          if (r.canceled) throw new Error(`${hostOf(endpoint)}: the watch was canceled (${r.cancel_reason ?? "no reason given"})`);
          const events = r.events ?? [];
          const kvs = events.filter((e) => e.type !== "DELETE").map((e) => toKv(e.kv));
          yield { kvs, deleted: events.length - kvs.length, revision: Number(r.header?.revision ?? 0) };
        }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  /**
   * etcd is at its quota (--quota-backend-bytes, 2 GB by default) and raised its NOSPACE alarm:
   * it refuses every write (reads and deletes go on) until an operator frees space, defragments
   * and disarms the alarm; until then this says so on every write, and in health.
   */
  private full(etcdSays: string): LanesError {
    const why = `the deploy store ${this.url} is out of space (${etcdSays}): etcd's database reached its quota (--quota-backend-bytes) and etcd takes no write until its NOSPACE alarm is disarmed; lower --keep-versions and restart a host to prune, then etcdctl defrag and etcdctl alarm disarm (README: Retention)`;
    this.onFull(why);
    return new LanesError("store_full", why);
  }
}

/** What etcd answers a write while its NOSPACE alarm is raised. */
const NO_SPACE = "database space exceeded";

/** etcd compacted away the revision a watch asked for. */
export class Compacted extends Error {
  constructor(readonly revision: number) {
    super(`etcd compacted its history up to revision ${revision}`);
  }
}

export function unreachable(url: string, why: string): LanesError {
  return new LanesError("unavailable", `the deploy store ${url} cannot be reached (${why})`);
}

function hostOf(endpoint: string): string {
  return endpoint.replace(/^http:\/\//, "");
}

/** Why a fetch failed, in a few words: ECONNREFUSED, a time-out, ... (each runtime words it its own way). */
export function reason(e: unknown, timeoutMs?: number): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === "TimeoutError") return `no answer within ${timeoutMs ?? "?"} ms`;
  return err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e);
}
