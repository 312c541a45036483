/**
 * One running instance of a function (a worker thread or a child process) seen from the host:
 * the ready handshake, the control API over comlink, and the requests in flight on it.
 */
import { wrap, type Remote } from "comlink";
import type { GuestChannel, GuestExit } from "../../adapters/types.ts";
import { LanesError } from "../errors.ts";
import { rpcChannel } from "../rpc.ts";
import type { GuestControl, GuestToHost, HostToGuest, LoadSpec, RequestFrame } from "../wire.ts";

export interface InstanceEvents {
  /** A line the function logged. */
  log(level: string, text: string, requestId?: string): void;
  /** A ctx.shared call from a process-lane guest; returns the value or throws. */
  shared(op: "add" | "get" | "set", key: string, value?: string | number): string | number | null | void;
  /** The instance is gone (crashed, killed or stopped). */
  gone(instance: Instance, exit: GuestExit): void;
  /** A request finished and freed its slot. */
  released(instance: Instance): void;
}

interface InFlight {
  resolve(res: Response): void;
  reject(err: LanesError): void;
  stream?: ReadableStreamDefaultController<Uint8Array>;
  /** The head went to the client: a crash now can only cut the body. */
  answered: boolean;
}

let nextInstanceId = 0;

export class Instance {
  readonly id = ++nextInstanceId;
  readonly control: Remote<GuestControl>;
  readonly startedAt = Date.now();
  state: "starting" | "ready" | "retiring" | "dead" = "starting";
  inflight = 0;
  lastUsed = Date.now();
  exit: GuestExit | undefined;
  /** It reached ready at least once (a failure before that is a failed start). */
  servedOnce = false;
  /** The host stopped it (retired, reaped, replaced): its exit is not a crash. */
  killedByHost = false;
  private readonly requests = new Map<number, InFlight>();
  private readonly rpc;
  private nextId = 0;
  private readyWaiter: (() => void) | undefined;

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

  /** Send a request; resolves with the Response once its head arrives. */
  request(frame: Omit<RequestFrame, "t" | "id">): { id: number; response: Promise<Response> } {
    const id = ++this.nextId;
    this.inflight++;
    this.lastUsed = Date.now();
    const response = new Promise<Response>((resolve, reject) => {
      this.requests.set(id, { resolve, reject, answered: false });
    });
    const full: RequestFrame = { t: "req", id, ...frame };
    this.post(full, frame.body ? [frame.body] : undefined);
    return { id, response };
  }

  /** Give up on a request (timeout or client gone): the guest cancels its stream. */
  abandon(id: number, err: LanesError) {
    const r = this.requests.get(id);
    if (!r) return;
    this.settle(id);
    if (r.answered) r.stream?.error(err);
    else r.reject(err);
    this.post({ t: "cancel", id });
  }

  async kill(): Promise<void> {
    if (this.state === "dead") return;
    this.state = "retiring";
    this.killedByHost = true;
    await this.channel.kill();
  }

  rss(): number | undefined {
    return this.channel.rss();
  }

  private post(f: HostToGuest, transfer?: ArrayBuffer[]) {
    if (this.state !== "dead") this.channel.post(f, transfer);
  }

  private settle(id: number) {
    if (!this.requests.delete(id)) return;
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
        const init = { status: f.status, statusText: f.statusText, headers: f.headers };
        if (!f.more) {
          this.settle(f.id);
          r.resolve(new Response(f.body, init));
          return;
        }
        const first = f.body;
        const stream = new ReadableStream<Uint8Array>({
          start: (controller) => {
            r.stream = controller;
            if (first) controller.enqueue(new Uint8Array(first));
          },
          cancel: () => {
            // the client went away: stop the function's stream and free the slot
            this.settle(f.id);
            this.post({ t: "cancel", id: f.id });
          },
        });
        r.resolve(new Response(stream, init));
        return;
      }
      case "chunk":
        this.requests.get(f.id)?.stream?.enqueue(new Uint8Array(f.body));
        return;
      case "end": {
        const r = this.requests.get(f.id);
        if (!r) return;
        this.settle(f.id);
        if (f.error) r.stream?.error(new Error(f.error));
        else r.stream?.close();
        return;
      }
      case "err": {
        const r = this.requests.get(f.id);
        if (!r) return;
        this.settle(f.id);
        this.events.log("error", f.stack, undefined);
        r.reject(new LanesError("function_error", `the function threw: ${f.message}`, { guestStack: f.stack }));
        return;
      }
      case "log":
        this.events.log(f.level, f.text, f.requestId);
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
          this.post({ t: "shared-reply", id: f.id, error: (e as Error).message });
        }
        return;
    }
  }

  private onExit(exit: GuestExit) {
    this.exit = exit;
    this.state = "dead";
    const err = new LanesError("instance_crashed", `the instance running this function ${describeExit(exit)}`);
    for (const [id, r] of this.requests) {
      this.requests.delete(id);
      this.inflight--;
      if (r.answered) r.stream?.error(err);
      else r.reject(err);
    }
    this.rpc.deliver = () => {};
    this.events.gone(this, exit);
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

function startError(exit: GuestExit): LanesError {
  const tail = exit.stderrTail.trim();
  return new LanesError(
    "unavailable",
    `instance ${describeExit(exit)} while starting${tail ? `; stderr:\n${tail}` : ""}`,
  );
}
