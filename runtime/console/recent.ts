/**
 * The last requests of each function, for the console's live feed: a ring per function (the
 * last RECENT requests, and the last ERRORS answers of 500 and above, which a busy function's
 * successes would otherwise push out). Writing one is a few stores into slots that are reused,
 * with strings the request already has: no object is made per request, so a host with the
 * console on pays next to nothing for it. The rings are per function name, so a function's
 * history survives a deploy that keeps it; a deploy that removes it drops its rings (retain), so
 * a function of that name brought back later does not show the old one's requests. Their slots
 * are made on the function's first request.
 */
export interface RecentRequest {
  /** Ever-growing number of the entry in its function's feed. */
  seq: number;
  /** Epoch ms when its answer was known. */
  at: number;
  method: string;
  path: string;
  status: number;
  ms: number;
  requestId: string;
  /** The version that served it: the deployed version with a deploy store, else the bundle hash. */
  version: string;
}

export const RECENT = 200;
export const ERRORS = 50;
/**
 * Characters of a path a feed keeps. Any client may send a path as long as the runtime takes
 * (16 KB on Node and Bun, 64 KB on Deno) to a function with a wildcard route: kept whole, one
 * function's feed held 12.8 MB on Deno, its page's data was that size, and a live event up to
 * 3.2 MB, four a second. The page shows 200 characters, the rest in a tooltip.
 */
export const PATH_CHARS = 1000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class RequestRing {
  /** Entries ever written; the newest is seq - 1. */
  seq = 0;
  private at: Float64Array | undefined;
  private ms: Float64Array | undefined;
  private status: Uint16Array | undefined;
  private readonly method: string[] = [];
  private readonly path: string[] = [];
  private readonly requestId: string[] = [];
  private readonly version: string[] = [];

  constructor(readonly capacity: number) {}

  push(at: number, method: string, path: string, status: number, ms: number, requestId: string, version: string): void {
    if (!this.at) this.allocate();
    const i = this.seq % this.capacity;
    this.at![i] = at;
    this.ms![i] = ms;
    this.status![i] = status;
    this.method[i] = method;
    this.path[i] = path;
    this.requestId[i] = requestId;
    this.version[i] = version;
    this.seq++;
  }

  /** Entries after `seq` still in the ring, oldest first, at most the newest `max`. */
  since(seq: number, max = this.capacity): RecentRequest[] {
    const from = Math.max(seq, this.seq - this.capacity, this.seq - max, 0);
    const out: RecentRequest[] = [];
    for (let n = from; n < this.seq; n++) {
      const i = n % this.capacity;
      out.push({
        seq: n,
        at: this.at![i]!,
        method: this.method[i]!,
        path: this.path[i]!,
        status: this.status![i]!,
        ms: this.ms![i]!,
        requestId: this.requestId[i]!,
        version: this.version[i]!,
      });
    }
    return out;
  }

  private allocate(): void {
    this.at = new Float64Array(this.capacity);
    this.ms = new Float64Array(this.capacity);
    this.status = new Uint16Array(this.capacity);
    // arrays of their final length, filled with strings: the slots are never grown or retyped
    for (const a of [this.method, this.path, this.requestId, this.version]) {
      a.length = this.capacity;
      a.fill("");
    }
  }
}

/** One function's feed: what the request path writes to (Served.recent). */
export class FunctionRecent {
  readonly all = new RequestRing(RECENT);
  readonly errors = new RequestRing(ERRORS);

  record(method: string, whole: string, status: number, ms: number, requestId: string, version: string): void {
    // a copy: a slice of a string may keep the whole of it alive (V8's sliced strings)
    const path = whole.length > PATH_CHARS ? `${decoder.decode(encoder.encode(whole.slice(0, PATH_CHARS)))}…` : whole;
    const at = Date.now();
    this.all.push(at, method, path, status, ms, requestId, version);
    if (status >= 500) this.errors.push(at, method, path, status, ms, requestId, version);
  }
}

/** Every function's feed on a host, by function name. */
export class RecentRequests {
  private readonly byName = new Map<string, FunctionRecent>();

  /** The feed of function `name` (made once, when the host builds a version of it). */
  of(name: string): FunctionRecent {
    let r = this.byName.get(name);
    if (!r) {
      r = new FunctionRecent();
      this.byName.set(name, r);
    }
    return r;
  }

  /** The feed of `name` if it has one. */
  find(name: string): FunctionRecent | undefined {
    return this.byName.get(name);
  }

  /** Drop the feeds of every function not in `names` (what the host serves now). */
  retain(names: Set<string>): void {
    for (const name of this.byName.keys()) if (!names.has(name)) this.byName.delete(name);
  }
}
