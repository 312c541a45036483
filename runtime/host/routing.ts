/**
 * What the host serves for one deployment, built once per switch and replaced in one
 * assignment: a router per version (each over that version's functions; a function unchanged
 * between the two shares its instances), which version gets a request, and the counts the
 * auto-rollback rule reads.
 */
import { judge, type SideCount, type Verdict } from "../deploy/auto-rollback.ts";
import type { Deployment } from "../deploy/model.ts";
import type { RequestLog, Served } from "./served.ts";
import type { HttpHandler } from "../../adapters/types.ts";
import type { HostHandler } from "./handler.ts";
import type { Host } from "./host.ts";
import type { Release } from "./release.ts";

export interface VersionRoute {
  version: string;
  handler: HostHandler;
}

export interface Routing {
  deployment: Deployment;
  stable: VersionRoute;
  canary: (VersionRoute & { percent: number }) | undefined;
  /** The versions a request may pin with `lanes-version`. */
  byVersion: Map<string, VersionRoute>;
  /** /_lanes/functions and /_lanes/metrics over both versions, each entry labelled with its version. */
  listing: HttpHandler;
  /** What `listing` lists: every function of both versions, labelled (the console reads it). */
  served: Served[];
  /** Requests and 5xx answers of the changed functions since the switch, per side. */
  counts: { stable: SideCount; canary: SideCount };
}

export interface RoutingHooks {
  /** The host's request log line, with the version added. */
  onRequest?: (entry: RequestLog) => void;
  /** Called once when the auto-rollback rule says so. */
  onVerdict(routing: Routing, verdict: Verdict): void;
}

export function buildRouting(host: Host, deployment: Deployment, stable: Release, canary: Release | undefined, hooks: RoutingHooks): Routing {
  const changed = new Set(deployment.canary?.changed ?? []);
  const counts = { stable: { requests: 0, errors: 0 }, canary: { requests: 0, errors: 0 } };
  let decided = false;
  const watch = deployment.canary?.autoRollback ?? false;
  const percent = deployment.canary?.percent ?? 0;

  const routeFor = (release: Release, side: "stable" | "canary"): VersionRoute => {
    const count = counts[side];
    const onRequest = (e: RequestLog) => {
      if (canary && e.fn !== undefined && changed.has(e.fn)) {
        count.requests++;
        if (e.status >= 500) count.errors++;
        if (watch && !decided && side === "canary") {
          const verdict = judge(counts.stable, counts.canary);
          if (verdict.rollback) {
            decided = true;
            hooks.onVerdict(routing, verdict);
          }
        }
      }
      hooks.onRequest?.(e);
    };
    return { version: release.id, handler: host.router(release.served, onRequest, release.id) };
  };

  const stableRoute = routeFor(stable, "stable");
  const canaryRoute = canary ? { ...routeFor(canary, "canary"), percent } : undefined;
  const label = (release: Release, share: number): Served[] => release.served.map((s) => ({ ...s, deployment: { version: release.id, percent: share } }));
  const listed = [...label(stable, 100 - percent), ...(canary ? label(canary, percent) : [])];
  const routing: Routing = {
    deployment,
    stable: stableRoute,
    canary: canaryRoute,
    byVersion: new Map([stableRoute, ...(canaryRoute ? [canaryRoute] : [])].map((r) => [r.version, r])),
    listing: host.router(listed),
    served: listed,
    counts,
  };
  return routing;
}
