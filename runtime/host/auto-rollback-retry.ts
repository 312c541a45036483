/**
 * An auto-rollback the store cannot take now (etcd away, or a switch under way) is tried again
 * for as long as the deployment it judged is active: routing gives its verdict once per
 * deployment, so one failed try would leave the worse version its share of requests for good,
 * after the store is back too.
 */
import type { Verdict } from "../deploy/auto-rollback.ts";
import type { Deployment } from "../deploy/model.ts";
import type { Logger } from "../log.ts";

/** Between tries: soon after etcd is back, without a burst of writes while it is away. */
const RETRY_MS = [1000, 2000, 5000];

/** `d`, a gradual deployment routing judged clearly worse: back to its stable version, until done or no longer active. */
export function autoRollBack(
  d: Deployment,
  verdict: Verdict,
  deployer: { readonly active: Deployment; rollback(author: string, version: string, ifVersion: null, auto: { revision: number; why: string }): Promise<unknown> },
  log: Logger,
): void {
  log.error(`auto-rollback: ${d.canary!.version} is clearly worse than ${d.stable} (${verdict.why}); rolling back to ${d.stable}`);
  const rollback = () => deployer.rollback("lanes", d.stable, null, { revision: d.revision, why: verdict.why });
  rollBackUntilDone(rollback, () => deployer.active.revision === d.revision, log, d.canary!.version);
}

export function rollBackUntilDone(rollback: () => Promise<unknown>, stillActive: () => boolean, log: Logger, what: string, tries = 0): void {
  void rollback().then(
    () => {
      if (tries > 0) log.info(`auto-rollback of ${what} happened after ${tries + 1} tries`);
    },
    (e: unknown) => {
      const why = e instanceof Error ? e.message : String(e);
      if (!stillActive()) {
        log.error(`auto-rollback of ${what} did not happen: ${why}`);
        return;
      }
      const ms = RETRY_MS[Math.min(tries, RETRY_MS.length - 1)]!;
      if (tries === 0) log.error(`auto-rollback of ${what} did not happen: ${why}; trying again every few seconds while it is active`);
      setTimeout(() => rollBackUntilDone(rollback, stillActive, log, what, tries + 1), ms);
    },
  );
}
