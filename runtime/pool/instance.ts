/**
 * One running instance of a function (a worker thread or a child process) seen from the host:
 * the ready handshake, the control API over comlink, the requests in flight on it and their
 * deadlines, and the liveness ping that tells a waiting instance from a spinning one.
 */
import { wrap, type Remote } from "comlink";
import type { GuestChannel, GuestExit } from "../../adapters/types.ts";
import { LanesError } from "../errors.ts";
import { rpcChannel } from "../rpc.ts";
import type { GuestControl, GuestToHost, HostToGuest, LoadSpec, RequestFrame } from "../wire.ts";
import { ResponseBody } from "./response-body.ts";
import { reasonPhrase, withStatusText } from "./status-text.ts";

export interface InstanceEvents {
  /** A line the function logged. */
  log(level: string, text: string, requestId?: string): void;
  /** A ctx.shared call from a process-lane guest; returns the value or throws. */
  shared(op: "add" | "get" | "set", key: string, value?: string | number): string | number | null | void;
  /** The instance is gone (crashed, killed or stopped). */
  gone(instance: Instance, exit: GuestExit): void;
  /** A request finished and freed its slot. */
  released(instance: Instance): void;
  /** The error a request gets when it runs past its deadline. */
  timeoutError?(): LanesError;
  /** A request on this instance ran past its deadline (its client already has its 504). */
  expired?(instance: Instance): void;
  /** A response whose head was sent could not finish: its body was cut short, for `why`. */
  cut?(requestId: string, why: string): void;
}

/** What the server tells a request about its client. */
export interface ClientHooks {
  /**
   * Calls `gone` once if the client goes away before its response is complete (the request is
   * then cancelled and the guest's request.signal aborts); returns what stops watching.
   */
  watch?(gone: () => void): () => void;
  /**
   * Ends the response as cut short (the client sees an incomplete body) without an error on
   * the server's side; without it, the body stream is errored (adapters/node-http.ts).
   */
  cutBody?: () => void;
}

interface InFlight {
  /** Stamped on the response as x-request-id. */
  requestId: string;
  resolve(res: Response): void;
  reject(err: LanesError): void;
  body?: ResponseBody;
  /** The head went to the client: a crash now can only cut the body. */
  answered: boolean;
  /** The request's one deadline timer; it covers a streamed body too. */
  timer: ReturnType<typeof setTimeout>;
  cutBody?: () => void;
  /** Stops watching the client. */
  unwatch?: () => void;
}

export type RequestInput = Omit<RequestFrame, "t" | "id">;

let nextInstanceId = 0;

export class Instance {
  readonly id = ++nextInstanceId;
  readonly control: Remote<GuestControl>;
  readonly startedAt = Date.now();
  state: "starting" | "ready" | "retiring" | "dead" = "starting";
  inflight = 0;
  /** Requests ever sent to it. */
  dispatched = 0;
  lastUsed = Date.now();
  readyAt = 0;
  exit: GuestExit | undefined;
  /** It reached ready at least once (a failure before that is a failed start). */
  servedOnce = false;
  /** The host stopped it (retired, reaped, replaced): its exit is not a crash. */
  killedByHost = false;
  /** Why the host had to stop it (spinning, over its memory): its exit is a crash with this cause. */
  crashReason: string | undefined;
  /** A liveness ping is out. */
  checking = false;
  private fatal: string | undefined;
  private readonly requests = new Map<number, InFlight>();
  private readonly rpc;
  private nextId = 0;
  private readyWaiter: (() => void) | undefined;
  private pongWaiter: ((id: number) => void) | undefined;

  constructor(
    private readonly channel: GuestChannel,
    private readonly events: InstanceEvents,
  ) {
    this.rpc = rpcChannel((f) => channel.post(f));
    this.control = wrap<GuestControl>(this.rpc.endpoint);
    channel.onMessage((m) => this.onFrame(m as GuestToHost));
    channel.onExit((exit) => this.onExit(exit));
  }

  /**
   * Wait for the guest's `ready` frame, then load the function, racing both against the
   * guest exiting and a deadline so a broken start never hangs.
   */
  async start(spec: LoadSpec, timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const died = new Promise<never>((_, reject) => {
      this.channel.onExit((exit) => reject(startError(exit)));
    });
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new LanesError("unavailable", `instance did not start within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    const ready = new Promise<void>((resolve) => (this.readyWaiter = resolve));
    try {
      await Promise.race([ready, died, deadline]);
      await Promise.race([this.control.load(spec), died, deadline]);
      this.state = "ready";
      this.servedOnce = true;
      this.readyAt = Date.now();
    } catch (e) {
      void this.kill();
      if (e instanceof LanesError) throw e;
      throw new LanesError("unavailable", `function failed to load: ${(e as Error).message}`, {
        guestStack: (e as Error).stack ?? "",
        cause: e,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Send a request; resolves with the Response once its head arrives. At `deadline` (epoch ms)
   * the request gets the timeout error and the pool hears about it (`expired`).
   */
  request(frame: RequestInput, deadline: number, client: ClientHooks = {}): Promise<Response> {
    const id = ++this.nextId;
    this.inflight++;
    this.dispatched++;
    const now = Date.now();
    this.lastUsed = now;
    const response = new Promise<Response>((resolve, reject) => {
      // setTimeout's extra argument: no closure per request
      this.requests.set(id, {
        requestId: frame.requestId,
        resolve,
        reject,
        answered: false,
        timer: setTimeout(this.expire, deadline - now, id),
        ...(client.cutBody ? { cutBody: client.cutBody } : {}),
      });
    });
    const full: RequestFrame = { t: "req", id, ...frame };
    this.post(full, frame.body ? [frame.body] : undefined);
    if (client.watch) this.watchClient(id, client.watch);
    return response;
  }

  /** The client went away: cancel the request (the guest aborts the function's request.signal). */
  private watchClient(id: number, watch: NonNullable<ClientHooks["watch"]>) {
    const unwatch = watch(() => this.abandon(id, new LanesError("client_gone", "the client went away before its answer")));
    const r = this.requests.get(id);
    if (r) r.unwatch = unwatch;
    else unwatch(); // it was gone already
  }

  /**
   * A response whose head is out cannot finish: the client must see its body cut short (not a
   * clean end), and the log says why, once, as a line (never a raw error dump).
   */
  private cutShort(r: InFlight, err: LanesError) {
    if (err.code !== "client_gone") this.events.cut?.(r.requestId, err.message);
    r.body?.cut(err, r.cutBody);
  }

  /** Give up on a request (deadline or client gone): the guest is told to cancel it. */
  abandon(id: number, err: LanesError) {
    const r = this.requests.get(id);
    if (!r) return;
    this.settle(id, r);
    if (r.answered) this.cutShort(r, err);
    else r.reject(err);
    this.post({ t: "cancel", id });
  }

  /**
   * Does the guest's event loop still turn? Resolves true if it answers within `ms`, false if
   * not (stuck in a CPU loop) or if it died meanwhile.
   */
  ping(ms: number): Promise<boolean> {
    if (this.state === "dead") return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const id = ++this.nextId;
      const timer = setTimeout(() => done(false), ms);
      const done = (alive: boolean) => {
        clearTimeout(timer);
        this.pongWaiter = undefined;
        resolve(alive);
      };
      // -1: the instance died while the ping was out
      this.pongWaiter = (got) => void ((got === id || got === -1) && done(got === id));
      this.post({ t: "ping", id });
    });
  }

  /**
   * Stop it. Without `reason` the host simply no longer needs it; with one, the host had to
   * stop it (spinning, over its memory) and the requests it cuts get that reason in their 502.
   */
  async kill(reason?: string): Promise<void> {
    if (this.state === "dead") return;
    this.state = "retiring";
    if (reason) this.crashReason ??= reason;
    else this.killedByHost = true;
    await this.channel.kill();
  }

  rss(): number | undefined {
    return this.channel.rss();
  }

  private readonly expire = (id: number) => {
    if (!this.requests.has(id)) return;
    this.abandon(id, this.events.timeoutError?.() ?? new LanesError("timeout", "the function did not answer in time"));
    this.events.expired?.(this);
  };

  private post(f: HostToGuest, transfer?: ArrayBuffer[]) {
    if (this.state !== "dead") this.channel.post(f, transfer);
  }

  private settle(id: number, r: InFlight) {
    this.requests.delete(id);
    clearTimeout(r.timer);
    r.unwatch?.();
    this.inflight--;
    this.lastUsed = Date.now();
    this.events.released(this);
  }

  private onFrame(f: GuestToHost) {
    switch (f.t) {
      case "res": {
        const r = this.requests.get(f.id);
        if (!r) return;
        r.answered = true;
        const statusText = reasonPhrase(f.statusText);
        const init = { status: f.status, statusText, headers: responseHeaders(f.headers, r.requestId) };
        if (!f.more) {
          this.settle(f.id, r);
          // bytes as a Uint8Array: the Node server writes those to the socket as they are
          r.resolve(withStatusText(new Response(f.body ? new Uint8Array(f.body) : null, init), statusText));
          return;
        }
        r.body = new ResponseBody(f.body, () => {
          // the client went away: stop the function's stream and free the slot
          if (this.requests.get(f.id) !== r) return;
          this.settle(f.id, r);
          this.post({ t: "cancel", id: f.id });
        });
        r.resolve(withStatusText(new Response(r.body.stream, init), statusText));
        return;
      }
      case "chunk":
        this.requests.get(f.id)?.body?.push(f.body);
        return;
      case "end": {
        const r = this.requests.get(f.id);
        if (!r) return;
        this.settle(f.id, r);
        if (f.error) this.cutShort(r, new LanesError("function_error", `the function's body stream failed: ${f.error}`));
        else r.body?.end();
        return;
      }
      case "err": {
        const r = this.requests.get(f.id);
        if (!r) return;
        this.settle(f.id, r);
        this.events.log("error", f.stack, undefined);
        r.reject(new LanesError("function_error", `the function threw: ${f.message}`, { guestStack: f.stack }));
        return;
      }
      case "log":
        this.events.log(f.level, f.text, f.requestId);
        return;
      case "pong":
        this.pongWaiter?.(f.id);
        return;
      case "fatal":
        this.fatal = f.message;
        this.events.log("error", f.stack, undefined);
        return;
      case "ready":
        this.readyWaiter?.();
        return;
      case "rpc":
        this.rpc.deliver(f.m);
        return;
      case "shared":
        try {
          const value = this.events.shared(f.op, f.key, f.value);
          this.post({ t: "shared-reply", id: f.id, value: value ?? null });
        } catch (e) {
          const code = (e as { code?: unknown }).code;
          this.post({ t: "shared-reply", id: f.id, error: (e as Error).message, ...(typeof code === "string" ? { code } : {}) });
        }
        return;
    }
  }

  private onExit(exit: GuestExit) {
    this.exit = exit;
    this.state = "dead";
    this.pongWaiter?.(-1);
    const why = this.crashReason ?? (this.fatal ? `crashed: ${this.fatal}` : describeExit(exit));
    const err = new LanesError("instance_crashed", `the instance running this function ${why}`);
    for (const [id, r] of this.requests) {
      this.requests.delete(id);
      clearTimeout(r.timer);
      r.unwatch?.();
      this.inflight--;
      if (r.answered) this.cutShort(r, err);
      else r.reject(err);
    }
    this.rpc.deliver = () => {};
    this.events.gone(this, exit);
  }

  /** How it ended, in words, for the host log. */
  describeEnd(): string {
    if (this.crashReason) return this.crashReason;
    if (this.fatal) return `crashed: ${this.fatal}`;
    return this.exit ? describeExit(this.exit) : "is running";
  }
}

/** How an instance ended, in words: exit code, signal, out of memory. */
export function describeExit(exit: GuestExit): string {
  if (exit.error?.code === "ERR_WORKER_OUT_OF_MEMORY" || /out of memory|heap limit/i.test(exit.stderrTail)) {
    return "ran out of memory";
  }
  if (exit.signal === "SIGABRT" || exit.signal === "SIGTRAP") return `ran out of memory (${exit.signal})`;
  if (exit.signal) return `was killed by ${exit.signal}`;
  if (exit.error) return `crashed: ${exit.error.message}`;
  return `exited with code ${exit.code}`;
}

/** A failed start. The child's stderr goes to the host log (guestStack), never to a client. */
function startError(exit: GuestExit): LanesError {
  const tail = exit.stderrTail.trim();
  return new LanesError("unavailable", `instance ${describeExit(exit)} while starting`, tail ? { guestStack: tail } : {});
}

/**
 * The function's headers plus x-request-id, as a record when no name repeats: the Node adapter's
 * server writes a record straight to the socket, without building a Headers object. A repeated
 * name (two set-cookie) keeps the list form, which every runtime reads correctly.
 */
function responseHeaders(headers: [string, string][], requestId: string): HeadersInit {
  const out: Record<string, string> = {};
  for (const [k, v] of headers) {
    if (k in out) return [...headers, ["x-request-id", requestId]];
    out[k] = v;
  }
  out["x-request-id"] = requestId;
  return out;
}
