/**
 * A host that stops while a deploy (or rollback) brings its version up. The server's shutdown
 * waits for in-flight requests only its grace (5 s for SIGTERM), and a version can take longer to
 * load: the client then saw its connection closed, with no word of what happened. So the host,
 * as it begins to stop, ends such a deploy before the server closes: the deploy answers 503
 * (`unavailable`) saying that nothing was changed, the version's trial instances are stopped, and
 * the store is not written. A deploy already past its load (writing the store, switching) is quick
 * and finishes as it would have. See ../../README.md, "Deploy".
 */
import { describeDeployment, type Deployment } from "../deploy/model.ts";
import { LanesError } from "../errors.ts";
import type { Served } from "./served.ts";

/** `late`: stops what a bring-up (a T) started after the host stopped. */
export class Halt<T> {
  private stopping = false;
  private readonly inFlight = new Set<() => void>();

  constructor(private readonly late: (t: T) => Promise<void>) {}

  /** A deploy, rollback or promote asked for (or whose turn came) while the host stops: refused. */
  check(active: Deployment, what: string): void {
    if (this.stopping) throw stoppedError(active, `${what} was not started`);
  }

  /**
   * `run` (the bring-up of a version, which tells `onBuilt` of each function it builds) unless
   * the host stops first: then `stoppedError` at once, the functions built so far are stopped,
   * and what `run` still brings up is given to `late` to stop.
   */
  async guard(active: Deployment, what: string, run: (onBuilt: (s: Served) => void) => Promise<T>): Promise<T> {
    this.check(active, what);
    const built = new Set<Served>();
    const running = run((s) => {
      built.add(s);
      if (this.stopping) void s.pool?.stop(0).catch(() => {});
    });
    const first = await this.unlessHalted(running, () => {
      for (const s of built) void s.pool?.stop(0).catch(() => {});
    });
    if (first !== ABORTED) return first;
    void running.then(this.late).catch(() => {}); // (its failure was no one's answer)
    throw stoppedError(active, `${what} was stopped while its version loaded`);
  }

  /**
   * `wait` (a deploy waiting for the other hosts of a shared store to load its version, given
   * whether the host stops, so that it ends) unless the host stops first: then `stoppedError` at
   * once, before anything was switched. Its other hosts may wait their whole `--cluster-wait`.
   */
  async during(active: Deployment, what: string, wait: (stopped: () => boolean) => Promise<void>): Promise<void> {
    const waiting = wait(() => this.stopping);
    waiting.catch(() => {}); // raced: its failure once the host stopped is no one's answer
    if ((await this.unlessHalted(waiting)) === ABORTED || this.stopping) {
      throw stoppedError(active, `${what} was stopped while it waited for the other hosts to load its version`);
    }
  }

  /** `p`, or ABORTED as soon as the host stops (`onHalt` runs then). */
  private async unlessHalted<R>(p: Promise<R>, onHalt?: () => void): Promise<R | typeof ABORTED> {
    let end!: () => void;
    const aborted = new Promise<typeof ABORTED>((resolve) => (end = () => resolve(ABORTED)));
    const ending = () => {
      end();
      onHalt?.();
    };
    this.inFlight.add(ending);
    try {
      return await Promise.race([p, aborted]);
    } finally {
      this.inFlight.delete(ending);
    }
  }

  /** The host stops: every guarded bring-up ends now, and no deploy starts after this. */
  halt(): void {
    this.stopping = true;
    for (const end of [...this.inFlight]) end();
  }
}

const ABORTED = Symbol("aborted");

function stoppedError(active: Deployment, what: string): LanesError {
  return new LanesError(
    "unavailable",
    `the host is stopping: nothing was changed: ${what}; deployment ${active.revision} (${describeDeployment(active)}) stays active; try again once a host runs`,
  );
}
