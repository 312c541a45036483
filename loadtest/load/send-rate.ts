/**
 * The rate requests actually went out at, in the open model: the least-squares slope of each
 * request's send time against its number in the schedule. A generator that falls steadily
 * behind shows in full; one late burst (a GC pause, another process taking the CPU for 100 ms
 * at the very end) moves it little, where "requests over first-to-last send" would swing by the
 * whole pause. Sums are kept centred (Welford), so long runs keep their precision.
 */
export class SendRate {
  private n = 0;
  private meanI = 0;
  private meanT = 0;
  private covIT = 0;
  private varI = 0;

  /** Request number `i` of the schedule went out at `tS` seconds. */
  add(i: number, tS: number): void {
    this.n++;
    const di = i - this.meanI;
    this.meanI += di / this.n;
    this.meanT += (tS - this.meanT) / this.n;
    this.covIT += di * (tS - this.meanT);
    this.varI += di * (i - this.meanI);
  }

  /** Requests per second, or null with fewer than two requests sent. */
  perSecond(): number | null {
    if (this.n < 2 || this.varI === 0) return null;
    const secondsPerRequest = this.covIT / this.varI;
    return secondsPerRequest > 0 ? 1 / secondsPerRequest : null;
  }
}
