/**
 * The deadlines of one instance's requests in flight, behind one timer. A timer per request
 * (set when it is sent, cleared when it is answered) cost 2-3 µs of the host's CPU per request
 * on Deno, whose `setTimeout` is Node's, built on ops (../../loadtest/README.md, The hot path). An
 * instance's requests all run one function with one `timeoutMs`, so their deadlines arrive
 * almost in order: they are kept sorted (an insertion from the back, nearly always at the end),
 * the timer is armed for the earliest (or earlier: it is never armed later than one already
 * set), and answered requests leave from the front.
 */
export class Deadlines {
  private ids: number[] = [];
  private at: number[] = [];
  private head = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(
    /** Is this request still waiting for its answer? */
    private readonly live: (id: number) => boolean,
    /** Its deadline passed (it has already left the queue). */
    private readonly expire: (id: number) => void,
  ) {}

  add(id: number, deadline: number): void {
    let i = this.ids.length;
    while (i > this.head && this.at[i - 1]! > deadline) i--;
    if (i === this.ids.length) {
      this.ids.push(id);
      this.at.push(deadline);
    } else {
      this.ids.splice(i, 0, id);
      this.at.splice(i, 0, deadline);
    }
    if (deadline < this.timerAt) this.arm(deadline);
  }

  /** Drop answered requests from the front (their timer, if armed for them, finds nothing due). */
  trim(): void {
    while (this.head < this.ids.length && !this.live(this.ids[this.head]!)) this.head++;
    if (this.head === this.ids.length) {
      // emptied: start again at the front in the same arrays. The timer stays: under load the
      // table empties and fills again many times a second, and stopping and arming a timer each
      // time cost a Deno host 0.7 µs per request (CPU profile; ../../loadtest/README.md, The hot path).
      // It fires once, finds nothing due and is not armed again: an idle host holds none.
      this.ids.length = 0;
      this.at.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.head);
      this.at = this.at.slice(this.head);
      this.head = 0;
    }
  }

  /** Nothing is in flight any more (the instance ended). */
  clear(): void {
    this.stop();
    this.ids = [];
    this.at = [];
    this.head = 0;
  }

  private stop(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private arm(deadline: number): void {
    clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(this.fire, Math.max(0, deadline - Date.now()));
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    for (;;) {
      this.trim();
      if (this.head >= this.ids.length) return;
      const deadline = this.at[this.head]!;
      if (deadline > now) return this.arm(deadline);
      const id = this.ids[this.head++]!;
      this.expire(id);
    }
  };
}
