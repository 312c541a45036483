/**
 * `--auto-rollback`: during a gradual deployment, the host counts the requests and the 5xx
 * answers of the changed functions, per side, and rolls back to the stable version by itself
 * when the new version is clearly worse. The rule, all three conditions at once:
 *   1. the new version has served at least MIN_REQUESTS (50) requests of changed functions;
 *   2. its 5xx rate is more than MIN_POINTS (10) percentage points above the stable one's;
 *   3. the difference is significant: a one-sided two-proportion z-test gives z >= MIN_Z (3.0),
 *      a chance below 0.14% that the stable version would do as badly by luck.
 * With no stable traffic to compare with (a function only the new version has), the stable
 * side counts as 0% errors and the test uses the new version's own variance.
 */
export const MIN_REQUESTS = 50;
export const MIN_POINTS = 10;
export const MIN_Z = 3;

export interface SideCount {
  requests: number;
  errors: number;
}

export interface Verdict {
  rollback: boolean;
  /** The figures, in words, for the log and the deployment's message. */
  why: string;
}

export function judge(stable: SideCount, canary: SideCount): Verdict {
  const rate = (s: SideCount) => (s.requests === 0 ? 0 : s.errors / s.requests);
  const pc = rate(canary);
  const ps = rate(stable);
  const pct = (p: number) => `${(p * 100).toFixed(1)}%`;
  const figures = `new ${canary.errors}/${canary.requests} 5xx (${pct(pc)}) vs stable ${stable.errors}/${stable.requests} (${pct(ps)})`;
  if (canary.requests < MIN_REQUESTS) return { rollback: false, why: `${figures}: fewer than ${MIN_REQUESTS} requests yet` };
  if ((pc - ps) * 100 <= MIN_POINTS) return { rollback: false, why: `${figures}: not more than ${MIN_POINTS} points worse` };
  const pooled = (canary.errors + stable.errors) / (canary.requests + stable.requests);
  const variance = stable.requests > 0 ? pooled * (1 - pooled) * (1 / canary.requests + 1 / stable.requests) : (pc * (1 - pc)) / canary.requests;
  const z = (pc - ps) / Math.sqrt(Math.max(variance, 1e-12));
  const rollback = z >= MIN_Z;
  return { rollback, why: `${figures}, z = ${Number.isFinite(z) && z < 1e6 ? z.toFixed(1) : "inf"}${rollback ? "" : ` < ${MIN_Z}: not significant yet`}` };
}
