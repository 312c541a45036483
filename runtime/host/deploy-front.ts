/**
 * The first stop of every request on a host with a deploy store, an admin token or a
 * non-loopback address:
 * - `/_lanes/api/*` goes to the admin API (tokens checked there), `/_lanes/ui*` to the console
 *   (sessions checked there); with `--console-host NAME`, the console answers on NAME only, and
 *   NAME answers nothing but lanes' own routes (console-host.ts);
 * - `/_lanes/functions` and `/_lanes/metrics` need the token when other machines can reach
 *   the host; `/_lanes/health` never does;
 * - with a store, `/_lanes/ready` says whether the active deployment is loaded, and
 *   `/_lanes/health` names the deployment and, on a shared store, whether it can be reached;
 * - a function request goes to the version it pins (`lanes-version`, a version of the active
 *   deployment) or, during a gradual deployment, to the new version with its percentage; that
 *   version's handler names it in the answer's `lanes-version` header.
 */
import { getPath } from "hono/utils/url";
import type { Exchange, HttpHandler, Reply } from "../../adapters/types.ts";
import { CONSOLE_OFF } from "../console/pages.ts";
import { errorReply, errorResponse, LanesError } from "../errors.ts";
import type { AdminAuth } from "./admin-auth.ts";
import type { ClusterMember } from "./cluster-member.ts";
import { healthBody, staleSecrets, withClusterMetrics } from "./cluster-health.ts";
import { functionsHealth } from "./function-health.ts";
import type { Deployer } from "./deployer.ts";
import { isReservedPath } from "../manifest/schema.ts";
import { resolvedPath } from "./dot-segments.ts";
import { CONSOLE_ELSEWHERE, CONSOLE_ONLY, requestHostName } from "./console-host.ts";
import { type HostHandler, VERSION_HEADER } from "./handler.ts";
import type { Front } from "./host.ts";

export type WebHandler = (request: Request, ex: Exchange) => Response | Promise<Response>;

export interface FrontOptions {
  auth: AdminAuth;
  /** The host listens where other machines can reach it: read routes need the token too. */
  guardReads: boolean;
  /** The host keeps versions: it is ready once a deployer serves the active deployment. */
  hasStore: boolean;
  /** Why there is no admin API, for its 404. */
  apiOff: string;
  /** `--console-host`: the one host name (lower-case) that serves the console, and serves no function. */
  consoleHost?: string;
}

export class DeployFront implements Front {
  private deployer: Deployer | undefined;
  private api: WebHandler | undefined;
  private console: WebHandler | undefined;
  private member: ClusterMember | undefined;

  constructor(private readonly o: FrontOptions) {}

  /**
   * From now on: deployments from `deployer`, the admin API from `api`, the console from
   * `console` (undefined: off), the cluster's state from `member`.
   */
  attach(deployer: Deployer | undefined, api: WebHandler | undefined, console?: WebHandler, member?: ClusterMember): void {
    this.deployer = deployer;
    this.api = api;
    this.console = console;
    this.member = member;
  }

  /**
   * A host with a store and a token listens before it has read (or made) its active deployment:
   * until then its API and console are not "off", they are not there yet.
   */
  private get starting(): boolean {
    return this.o.hasStore && this.o.auth.enabled && this.deployer === undefined;
  }

  handler(own: () => HostHandler): HttpHandler {
    return {
      fast: (ex) => this.fast(ex, own),
      web: (request, ex) => this.web(request, ex, own),
    };
  }

  private fast(ex: Exchange, own: () => HostHandler): Reply | Promise<Reply> | undefined {
    // the console's origin serves no function: a function's page there would be the console's own
    if (this.o.consoleHost !== undefined && requestHostName(ex) === this.o.consoleHost) {
      if (!ex.target.startsWith("/")) return undefined; // web() checks the path the URL names
      if (!isReservedPath(resolvedPath(ex.target))) {
        const err = new LanesError("not_found", CONSOLE_ONLY);
        return errorReply(err, refused(this.deployer?.routing.stable.handler ?? own(), ex, err));
      }
    }
    const routing = this.deployer?.routing;
    if (!routing) return own().fast(ex);
    const target = ex.target;
    // lanes' own routes (and a target that is not a path) are the web side's or the router's to answer
    if (!target.startsWith("/") || isReservedPath(resolvedPath(target))) return routing.stable.handler.fast(ex);
    const pinned = ex.header(VERSION_HEADER);
    if (pinned !== undefined) {
      const wanted = routing.byVersion.get(pinned.trim());
      if (wanted) return wanted.handler.fast(ex);
      const serving = [...routing.byVersion.keys()].join(", ");
      const why = `${VERSION_HEADER}: ${JSON.stringify(pinned.slice(0, 40))} is not a version of the active deployment (${serving})`;
      const err = new LanesError("bad_request", why);
      return errorReply(err, refused(routing.stable.handler, ex, err));
    }
    const route = routing.canary && Math.random() * 100 < routing.canary.percent ? routing.canary : routing.stable;
    return route.handler.fast(ex);
  }

  private async web(request: Request, ex: Exchange, own: () => HostHandler): Promise<Response> {
    // the path as the reserved routes' router decodes it: an encoded name cannot slip past a check
    const path = getPath(request);
    const named = this.o.consoleHost === undefined ? undefined : requestHostName(ex) === this.o.consoleHost;
    const notFound = (why: string) => {
      const err = new LanesError("not_found", why);
      return errorResponse(err, refused(this.deployer?.routing.stable.handler ?? own(), ex, err));
    };
    if (named && !isReservedPath(path)) return notFound(CONSOLE_ONLY);
    if (path === "/_lanes/api" || path.startsWith("/_lanes/api/")) {
      if (this.api) return this.api(request, ex);
      if (this.starting) return errorResponse(STARTING, crypto.randomUUID());
      return notFound(this.o.apiOff);
    }
    if (this.o.hasStore && (path === "/_lanes/ready" || path === "/_lanes/health") && request.method === "GET") {
      const d = this.deployer?.active;
      const headers = { "cache-control": "no-store", "x-request-id": crypto.randomUUID() };
      // starting: not ready yet, but alive (a liveness probe must not kill a host that loads)
      if (!d) return Response.json({ status: "starting" }, { status: path === "/_lanes/ready" ? 503 : 200, headers });
      const status = this.member?.status();
      const fns = functionsHealth(this.deployer?.routing.served ?? [], this.deployer?.host.loading());
      if (path === "/_lanes/health") return Response.json(healthBody(d, status, fns), { status: fns.down ? 503 : 200, headers });
      if (fns.down) return Response.json({ status: "down", deployment: d.revision, reason: fns.reason }, { status: 503, headers });
      // its start-up load check runs: not ready until it has found a function that can start
      if (fns.starting) return Response.json({ status: "starting", deployment: d.revision, reason: fns.reason }, { status: 503, headers: { ...headers, "retry-after": "1" } });
      // Not ready while the store's current secrets do not open here: the functions would answer
      // with values replaced since (a revoked credential) or none, so the load balancer should send
      // the traffic to the hosts that read them; health stays 200, a liveness probe must not kill it.
      const stale = staleSecrets(status);
      if (stale) return Response.json({ status: "stale_secrets", deployment: d.revision, reason: stale }, { status: 503, headers });
      return Response.json({ status: "ready", deployment: d.revision }, { headers });
    }
    if (path === "/_lanes/ui" || path.startsWith("/_lanes/ui/")) {
      if (named === false) return notFound(CONSOLE_ELSEWHERE);
      if (this.console) return this.console(request, ex);
      if (this.starting) return errorResponse(STARTING, crypto.randomUUID());
      return notFound(CONSOLE_OFF);
    }
    if (this.o.guardReads && (path.startsWith("/_lanes/functions") || path.startsWith("/_lanes/metrics"))) {
      try {
        await this.o.auth.checkCaller(ex.header("authorization") ?? null, ex, `${path} on a host reachable from other machines`);
      } catch (e) {
        return errorResponse(e, crypto.randomUUID());
      }
    }
    const res = await (this.deployer?.routing.listing ?? own()).web(request, ex);
    return this.member && path === "/_lanes/metrics" ? withClusterMetrics(res, this.member.status()) : res;
  }
}

/**
 * An answer the front makes itself, before any router sees the request (a pin to no version of
 * the active deployment, a function's path on the console's name, the console on another name,
 * an admin API or console that is off), is logged and counted by `by` as its own refusals are
 * (finish.ts, unrouted): its request id. Clients pinned to a version a promote retired got 400s
 * that no access-log line and no lanes_unrouted_requests_total showed.
 */
function refused(by: HostHandler, ex: Exchange, err: LanesError): string {
  const requestId = crypto.randomUUID();
  by.refused({ method: ex.method, target: ex.target, status: err.status, requestId });
  return requestId;
}

const STARTING = new LanesError("unavailable", "the host is starting: it loads its active deployment; try again in a moment", {
  headers: { "retry-after": "1" },
});
