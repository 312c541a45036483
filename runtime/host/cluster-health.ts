/**
 * What a host on a shared store says about the store, in /_lanes/health and /_lanes/metrics.
 * `degraded` is not down: the host serves its last deployment, so load balancers and liveness
 * probes must keep it (health answers 200 either way); only deploys wait for the store. `down`
 * (503) is a host where no function can start (function-health.ts), whatever the store says.
 *
 * Metrics: /_lanes/metrics gets a `cluster` object in its JSON, and, when it answers in the
 * Prometheus text format, the gauges below appended to it (`clusterGauges` is the one place
 * they are defined, for a metrics registry to read instead).
 */
import type { Deployment } from "../deploy/model.ts";
import { describeDeployment } from "../deploy/model.ts";
import type { ClusterStatus } from "./cluster-member.ts";
import type { FunctionsHealth } from "./function-health.ts";

export function healthBody(d: Deployment, cluster: ClusterStatus | undefined, fns: FunctionsHealth): Record<string, unknown> {
  const deployment = { revision: d.revision, serving: describeDeployment(d) };
  const status = (reasons: string[]) => (fns.down ? "down" : fns.starting ? "starting" : reasons.length === 0 ? "ok" : "degraded");
  if (!cluster) {
    const reasons = fns.reason ? [fns.reason] : [];
    return { status: status(reasons), ...(fns.reason ? { reason: fns.reason } : {}), deployment };
  }
  const { store, host } = cluster;
  const reasons = [
    ...(fns.reason ? [fns.reason] : []),
    ...(store.reachable ? [] : [`the deploy store cannot be reached since ${store.since}: serving the last deployment; deploys fail until it is back`]),
    ...(store.lost ? [`the deploy store ${store.lost}`] : []),
    // it serves on: only deploys, rollbacks and secrets wait for the space
    ...(store.full ? [store.full] : []),
    ...(staleSecrets(cluster) ? [staleSecrets(cluster)!] : []),
    // a deployment the others switched to that did not load here: this host serves an older one
    // (or, the store having lost its data, one of the history before, whatever its revision)
    ...(host.failed && (host.failed.revision > d.revision || store.lost)
      ? [
          `deployment ${host.failed.revision} did not load on this host (${host.failed.error.replace(/\s*\n\s*/g, " ")}): it serves deployment ${d.revision} (${deployment.serving})`,
        ]
      : []),
  ];
  return {
    status: status(reasons),
    ...(reasons.length === 0 ? {} : { reason: reasons.join("; ") }),
    deployment,
    host: { id: host.id, url: host.url },
    store,
    ...(host.secrets ? { secrets: host.secrets } : {}),
  };
}

/**
 * Why this host's functions may hold old secret values: the store's current ones do not open
 * here (names only, never a value). Undefined when it read them all.
 */
export function staleSecrets(cluster: ClusterStatus | undefined): string | undefined {
  const s = cluster?.host.secrets;
  if (!s?.error) return undefined;
  const which = s.unreadable.length > 0 ? s.unreadable.join(", ") : "the store's secrets";
  return `cannot open ${which}: ${s.error}; its functions keep the values read before (restart it with a key file that holds that key)`;
}

export interface Gauge {
  name: string;
  help: string;
  type: "gauge" | "counter";
  value: number;
}

export function clusterGauges(c: ClusterStatus): Gauge[] {
  return [
    {
      name: "lanes_store_up",
      type: "gauge",
      value: c.store.reachable ? 1 : 0,
      help: "1 when this host reaches its deploy store; 0 while it serves its last deployment without it (degraded).",
    },
    {
      name: "lanes_store_state_since_seconds",
      type: "gauge",
      value: Date.parse(c.store.since) / 1000,
      help: "When the deploy store last became reachable or unreachable (Unix time).",
    },
    { name: "lanes_deployment_revision", type: "gauge", value: c.host.revision, help: "The deployment this host serves (its revision in the store)." },
    { name: "lanes_deployment_switches_total", type: "counter", value: c.switches, help: "Deployments this host switched to since it started, made here or on another host." },
    {
      name: "lanes_deployment_switch_failures_total",
      type: "counter",
      value: c.failedSwitches,
      help: "Deployments made on another host that did not load here (this host kept the one before).",
    },
  ];
}

/** The metrics answer with the cluster's figures added, in its own format. */
export async function withClusterMetrics(res: Response, c: ClusterStatus): Promise<Response> {
  if (res.status !== 200) return res;
  const type = res.headers.get("content-type") ?? "";
  const headers = new Headers(res.headers);
  headers.delete("content-length");
  if (type.includes("application/json")) {
    const body = (await res.json()) as Record<string, unknown>;
    return new Response(JSON.stringify({ ...body, cluster: c }), { status: 200, headers });
  }
  if (type.startsWith("text/plain")) {
    const lines = clusterGauges(c).flatMap((g) => [`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} ${g.type}`, `${g.name} ${g.value}`]);
    return new Response(`${await res.text()}${lines.join("\n")}\n`, { status: 200, headers });
  }
  return res;
}
