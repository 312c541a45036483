/**
 * The pings an instance's host sends it: liveness probes (does its event loop still turn?) and
 * memory measurements. Each is answered by one pong, so a pong when none is out was never asked
 * for (unasked.ts).
 */
import { PING_COLLECT, type PingFrame, type PongFrame } from "../channel/frames.ts";

/** The ping id of a memory measurement (probes count from 1). */
const MEASURE = 0;

export class Pings {
  private nextPing = 0;
  /** Pings sent and not answered yet. */
  private out = 0;
  private probing: Promise<boolean> | undefined;
  private pongWaiter: ((id: number) => void) | undefined;

  constructor(
    /** Sends a ping, unless the instance is gone (false then). */
    private readonly send: (f: PingFrame) => boolean,
  ) {}

  /** A liveness probe is out. */
  get isProbing(): boolean {
    return this.probing !== undefined;
  }

  /** Resolves true if the guest answers within `ms`, false if not or if it died meanwhile (`died`). A probe already out is shared. */
  probe(ms: number): Promise<boolean> {
    if (this.probing) return this.probing;
    let settled = false; // the ping may fail as it is sent
    const probe = new Promise<boolean>((resolve) => {
      const id = ++this.nextPing;
      const timer = setTimeout(() => done(false), ms);
      const done = (alive: boolean) => {
        clearTimeout(timer);
        this.pongWaiter = this.probing = undefined;
        settled = true;
        resolve(alive);
      };
      this.pongWaiter = (got) => void ((got === id || got === -1) && done(got === id)); // -1: it died meanwhile
      this.ping(id);
    });
    if (!settled) this.probing = probe;
    return probe;
  }

  /** Asks the guest what its memory holds (after collecting its garbage, with `collect`). */
  measure(collect: boolean): void {
    this.ping(collect ? PING_COLLECT : MEASURE);
  }

  /** A pong arrived: false if no ping was out (the guest sent it unasked). */
  pong(f: PongFrame): boolean {
    if (this.out === 0) return false;
    this.out--;
    if (f.id !== MEASURE && f.id !== PING_COLLECT) this.pongWaiter?.(f.id);
    return true;
  }

  /** The guest is gone: a probe out is answered false. */
  died(): void {
    this.pongWaiter?.(-1);
  }

  private ping(id: number): void {
    if (this.send({ t: "ping", id })) this.out++;
  }
}
