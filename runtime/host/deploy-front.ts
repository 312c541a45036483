/**
 * The first stop of every request on a host with a deploy store, an admin token or a
 * non-loopback address:
 * - `/_lanes/api/*` goes to the admin API (tokens checked there);
 * - `/_lanes/functions` and `/_lanes/metrics` need the token when other machines can reach
 *   the host; `/_lanes/health` never does;
 * - a function request goes to the version it pins (`lanes-version`, a version of the active
 *   deployment) or, during a gradual deployment, to the new version with its percentage; the
 *   answer names the version in its `lanes-version` header.
 */
import type { RequestInfo } from "../../adapters/types.ts";
import { errorResponse, LanesError } from "../errors.ts";
import type { AdminAuth } from "./admin-auth.ts";
import type { Deployer } from "./deployer.ts";
import { VERSION_HEADER } from "./app.ts";
import type { Front, HostFetch } from "./host.ts";


export interface FrontOptions {
  auth: AdminAuth;
  /** The host listens where other machines can reach it: read routes need the token too. */
  guardReads: boolean;
  /** Why there is no admin API, for its 404. */
  apiOff: string;
}

export class DeployFront implements Front {
  private deployer: Deployer | undefined;
  private api: HostFetch | undefined;

  constructor(private readonly o: FrontOptions) {}

  attach(deployer: Deployer | undefined, api: HostFetch | undefined): void {
    this.deployer = deployer;
    this.api = api;
  }

  async fetch(request: Request, info: RequestInfo | undefined, router: HostFetch): Promise<Response> {
    const path = requestPath(request.url);
    const routing = this.deployer?.routing;
    if (path.startsWith("/_lanes/")) {
      if (path === "/_lanes/api" || path.startsWith("/_lanes/api/")) {
        if (this.api) return this.api(request, info);
        return refuse(new LanesError("not_found", this.o.apiOff));
      }
      if (this.o.guardReads && (path.startsWith("/_lanes/functions") || path.startsWith("/_lanes/metrics"))) {
        try {
          await this.o.auth.check(request.headers.get("authorization"), info?.remoteAddress(), `${path} on a host reachable from other machines`);
        } catch (e) {
          return refuse(e);
        }
      }
      return (routing?.listing ?? router)(request, info);
    }
    if (!routing) return router(request, info);
    const pinned = headerOf(request, info, VERSION_HEADER);
    let route = routing.stable;
    if (pinned !== null) {
      const wanted = routing.byVersion.get(pinned.trim());
      if (!wanted) {
        const serving = [...routing.byVersion.keys()].join(", ");
        return refuse(new LanesError("bad_request", `${VERSION_HEADER}: ${JSON.stringify(pinned.slice(0, 40))} is not a version of the active deployment (${serving})`));
      }
      route = wanted;
    } else if (routing.canary && Math.random() * 100 < routing.canary.percent) {
      route = routing.canary;
    }
    // the version's router names it in the answer's lanes-version header
    return route.fetch(request, info);
  }
}

/** The path of a request URL, percent-decoded as the router decodes it (so an encoded name cannot slip past a check). */
export function requestPath(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  let end = url.indexOf("?", start);
  if (end < 0) end = url.length;
  const raw = url.slice(start, end);
  if (!raw.includes("%")) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function headerOf(request: Request, info: RequestInfo | undefined, name: string): string | null {
  if (!info?.headerPairs) return request.headers.get(name);
  for (const [k, v] of info.headerPairs()) if (k.length === name.length && k.toLowerCase() === name) return v;
  return null;
}

function refuse(e: unknown): Response {
  const requestId = crypto.randomUUID();
  const res = errorResponse(e, requestId);
  res.headers.set("x-request-id", requestId);
  return res;
}
