/**
 * Restarting serving functions onto new secret values, as a deploy switches a version: the new
 * instances start next to the serving ones, the change is kept once they are up, then every
 * route switches at once and the old instances finish their requests. If one does not start,
 * or keeping the change fails, nothing changes.
 */
import { LanesError } from "../errors.ts";
import type { SecretValues } from "../secrets/values.ts";
import { heldLogger, startTrial } from "./reload-build.ts";
import { rememberFingerprint, type Release, type ReleaseContext } from "./release.ts";
import type { Served } from "./served.ts";

export interface RestartResult {
  /** The functions restarted (each once). */
  restarted: string[];
  loadMs: number;
  switchMs: number;
}

/**
 * Restart `which` with `values`: `commit` keeps the change once every new instance is up, then
 * `swap` routes to them (old served to new). `versionOf`: the version a function serves in (its
 * metrics label).
 */
export async function restartServing(
  ctx: ReleaseContext,
  which: Served[],
  versionOf: (s: Served) => string | undefined,
  values: SecretValues,
  commit: () => Promise<void>,
  swap: (replaced: Map<Served, Served>) => void,
): Promise<RestartResult> {
  const t0 = performance.now();
  if (which.length === 0) return commit().then(() => ({ restarted: [], loadMs: 0, switchMs: 0 }));
  const replaced = await restartFunctions(ctx, which, versionOf, values);
  const t1 = performance.now();
  try {
    await commit();
  } catch (e) {
    await Promise.all([...replaced.values()].map((s) => s.pool?.stop(0)));
    throw e;
  }
  swap(replaced);
  return { restarted: [...new Set(which.map((s) => s.spec.name))], loadMs: Math.round(t1 - t0), switchMs: Math.round(performance.now() - t1) };
}

/**
 * Build and start each of `which` again with `values`, next to the instances serving: old to
 * new. If one does not start, what was started is stopped and the error (never a value) thrown.
 */
async function restartFunctions(ctx: ReleaseContext, which: Served[], versionOf: (s: Served) => string | undefined, values: SecretValues): Promise<Map<Served, Served>> {
  const outcomes = await Promise.all(
    which.map(async (old) => {
      const gate = heldLogger(ctx.log);
      return { old, attempt: await startTrial(await ctx.host.build(old.spec, gate.log, versionOf(old), values), gate) };
    }),
  );
  const replaced = new Map<Served, Served>();
  for (const o of outcomes) if (o.attempt.ok) replaced.set(o.old, o.attempt.served);
  const failed = outcomes.flatMap((o) => (o.attempt.ok ? [] : [o.attempt.error]));
  if (failed.length > 0) {
    await Promise.all([...replaced.values()].map((s) => s.pool?.stop(0)));
    throw new LanesError("load_failed", `nothing changed: ${failed.length} function(s) did not start with the new value:\n  ${failed.join("\n  ")}`);
  }
  return replaced;
}

/**
 * `release` with the functions in `replaced` swapped for their new instances: the same
 * fingerprint but for the secrets' stamp (a function shared by both versions of a gradual
 * deployment stays shared).
 */
export function withReplaced(release: Release, replaced: Map<Served, Served>): Release {
  const served = release.served.map((s) => replaced.get(s) ?? s);
  const fingerprints = new Map(release.fingerprints);
  for (const [old, now] of replaced) {
    const name = old.spec.name;
    const fp = release.fingerprints.get(name);
    if (!release.served.includes(old) || fp === undefined) continue;
    const next = JSON.stringify({ ...(JSON.parse(fp) as object), secrets: now.secretStamp ?? "" });
    rememberFingerprint(now, next);
    fingerprints.set(name, next);
  }
  return { ...release, served, fingerprints };
}
