/**
 * The console's live feed, as Server-Sent Events (a plain GET the browser's EventSource keeps
 * open, with the session cookie):
 *   event: sample    after each sample (series.ts): the newest figures of the host and every function
 *   event: requests  a function's requests answered since the last event (with ?fn=NAME)
 *   event: errors    its answers of 500 and above, the same way
 *   event: logout    the session ended (logged out or expired); the stream closes
 * Each stream looks every TICK_MS at what is new; nothing is sent on the request path. A session
 * may hold PER_SESSION streams, the host MAX_STREAMS, so open tabs cannot pile up. A stream whose
 * client stops reading (a laptop gone to sleep, a stalled network) is dropped once it holds
 * UNREAD_BYTES it could not send, instead of keeping every event for it in the host's memory; a
 * browser that comes back sees the stream cut and reconnects.
 * https://html.spec.whatwg.org/multipage/server-sent-events.html
 */
import { LanesError } from "../errors.ts";
import type { Session, SessionStore } from "./session.ts";
import { liveState, type ViewSource } from "./views.ts";

const TICK_MS = 250;
const KEEP_ALIVE_MS = 15_000;
const PER_SESSION = 4;
const MAX_STREAMS = 64;
/** At most this many entries of a feed per event (a busy function's newest). */
const BATCH = 50;
/** What a stream may queue for a client that does not read, well above one event. */
const UNREAD_BYTES = 1024 * 1024;

const STREAM_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" };

export class LiveStreams {
  private readonly closers = new Set<() => void>();
  private readonly perSession = new Map<Session, number>();

  constructor(
    private readonly src: ViewSource,
    private readonly sessions: SessionStore,
  ) {}

  open(session: Session, fn: string | undefined): Response {
    const mine = this.perSession.get(session) ?? 0;
    if (mine >= PER_SESSION || this.closers.size >= MAX_STREAMS) {
      throw new LanesError("rate_limited", `too many live streams open (at most ${PER_SESSION} per session): close a console tab`, {
        headers: { "retry-after": "5" },
      });
    }
    this.checkFunction(fn);
    this.perSession.set(session, mine + 1);
    const encoder = new TextEncoder();
    const feed = fn ? this.src.recent.of(fn) : undefined;
    let seq = feed ? feed.all.seq : 0;
    let errorSeq = feed ? feed.errors.seq : 0;
    let sampled = this.src.sampler.host.t[this.src.sampler.host.t.length - 1] ?? 0;
    let quietSince = Date.now();
    let timer: ReturnType<typeof setInterval> | undefined;
    let closed = false;
    let controller!: ReadableStreamDefaultController<Uint8Array>;

    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      this.closers.delete(close);
      const left = (this.perSession.get(session) ?? 1) - 1;
      if (left > 0) this.perSession.set(session, left);
      else this.perSession.delete(session);
      try {
        controller.close();
      } catch {
        // the client went away first
      }
    };
    const send = (event: string, data: unknown) => {
      // desiredSize: UNREAD_BYTES less what is queued (the strategy below counts bytes)
      if ((controller.desiredSize ?? 0) < 0) throw new LanesError("unavailable", "the live stream's client stopped reading");
      controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
      quietSince = Date.now();
    };
    const tick = () => {
      try {
        if (!this.sessions.alive(session)) {
          send("logout", { why: "the session ended" });
          return close();
        }
        const host = this.src.sampler.host;
        const last = host.t[host.t.length - 1] ?? 0;
        if (last !== sampled) {
          sampled = last;
          send("sample", liveState(this.src, fn));
        }
        if (feed && feed.all.seq !== seq) {
          send("requests", feed.all.since(seq, BATCH));
          seq = feed.all.seq;
        }
        if (feed && feed.errors.seq !== errorSeq) {
          send("errors", feed.errors.since(errorSeq, BATCH));
          errorSeq = feed.errors.seq;
        }
        if (Date.now() - quietSince > KEEP_ALIVE_MS) {
          controller.enqueue(encoder.encode(": keep-alive\n\n"));
          quietSince = Date.now();
        }
      } catch (e) {
        // error(), not close(): it also drops what is queued (close() would keep it for the client)
        if (e instanceof LanesError) controller.error(e);
        close(); // or the client went away: enqueue throws on a closed stream
      }
    };

    const body = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          controller = c;
          this.closers.add(close);
          // the browser reconnects after this long if the stream breaks
          c.enqueue(encoder.encode("retry: 2000\n\n"));
          timer = setInterval(tick, TICK_MS);
        },
        cancel: () => close(),
      },
      new ByteLengthQueuingStrategy({ highWaterMark: UNREAD_BYTES }),
    );
    return new Response(body, { headers: STREAM_HEADERS });
  }

  /**
   * The answer to a HEAD: the stream's head, and no stream. Answering it with one left the
   * stream open for good (no client reads a HEAD's body), holding one of the session's streams.
   */
  head(fn: string | undefined): Response {
    this.checkFunction(fn);
    return new Response(null, { headers: STREAM_HEADERS });
  }

  private checkFunction(fn: string | undefined): void {
    if (fn !== undefined && !this.src.served().some((s) => s.spec.name === fn)) {
      throw new LanesError("not_found", `no function ${JSON.stringify(fn.slice(0, 64))} on this host`);
    }
  }

  stop(): void {
    for (const close of [...this.closers]) close();
  }
}
