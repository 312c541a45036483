/**
 * What the functions' state says about a host, for /_lanes/health and /_lanes/ready: a host
 * with some functions that cannot start is `degraded` (200: it serves the others, and every
 * host of a deployment has the same broken ones); one where every function cannot start is
 * `down`, and both routes answer 503, so a load balancer or a readiness probe sends its traffic
 * to hosts that can serve it (README, HTTP behaviour).
 */
import { isBroken } from "./load-check.ts";
import type { Served } from "./served.ts";

/** Least time between two start retries of a function that a probe of a down host makes. */
export const DOWN_RETRY_MS = 5000;

export interface FunctionsHealth {
  /** Every function cannot start (and there is at least one). */
  down: boolean;
  /** Not down, and the start-up load check has not ended: whether the others can start is not known yet. */
  starting?: boolean;
  /** Why not "ok": the functions that cannot start, by name (the errors are in /_lanes/functions and the host log), or that it is starting. */
  reason?: string;
}

/**
 * Said while the start-up load check runs (it begins once the host listens): a module that throws
 * at import is found by it, and health said "ok" and ready 200 in that time on a host where not
 * one function could start (about 0.3 s on Node, 0.5 s on Deno for two functions, longer for many).
 */
const LOADING = "the start-up load check has not yet loaded every function once: whether they can start is not known";

const tried = new WeakMap<object, number>();

/**
 * The functions' health. When every function is down, a function whose last start failed (not one
 * that failed to compile) is started once more: with `instances.min` 0 only a request tries it
 * again, and a load balancer sends a down host none, so a start that failed for a passing reason
 * (memory, a process limit) would keep the host out for good. One function at a time (the one
 * tried longest ago), at most every DOWN_RETRY_MS for the whole host: anyone may probe, and a
 * start per broken function at each probe had a host of 40 broken functions, probed twice a
 * second, start 8 processes a second. One that starts is enough: the host is then `degraded`, gets
 * requests again, and they start the others.
 */
export function functionsHealth(list: Served[], loading = false): FunctionsHealth {
  // one function of a version in a gradual deployment counts once per version it is served in
  const broken = list.filter(isBroken);
  if (broken.length === 0) return loading ? { down: false, starting: true, reason: LOADING } : { down: false };
  const names = [...new Set(broken.map((f) => f.spec.name))];
  const total = new Set(list.map((f) => f.spec.name)).size;
  const down = broken.length === list.length;
  if (down) retryOne(broken);
  if (!down && loading) return { down, starting: true, reason: `${LOADING}; ${names.length} cannot start so far (${names.join(", ")})` };
  return {
    down,
    reason: down
      ? `no function can start (${names.join(", ")}): this host serves nothing; /_lanes/functions and the host log say why`
      : `${names.length} of ${total} function(s) cannot start (${names.join(", ")}): the others serve; /_lanes/functions and the host log say why`,
  };
}

function retryOne(broken: Served[]): void {
  const pools = [...new Set(broken.flatMap((f) => (f.pool ? [f.pool] : [])))];
  const now = Date.now();
  // a start under way (a retry, or a pool's own for `instances.min`), or one begun within DOWN_RETRY_MS
  if (pools.some((p) => !p.empty || now - (tried.get(p) ?? 0) < DOWN_RETRY_MS)) return;
  const next = pools.sort((a, b) => (tried.get(a) ?? 0) - (tried.get(b) ?? 0))[0];
  if (!next) return;
  tried.set(next, now);
  void next.warm(1);
}
