/**
 * The console on a running host: its sampler (the charts' figures, every two seconds) and its
 * app, over what the host serves now (both versions of a gradual deployment, labelled).
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import type { DeployStore } from "../deploy/store.ts";
import type { AdminAuth } from "../host/admin-auth.ts";
import type { WebHandler } from "../host/deploy-front.ts";
import type { Deployer } from "../host/deployer.ts";
import type { Host } from "../host/host.ts";
import { createConsole } from "./app.ts";
import { figuresByName } from "./figures.ts";
import type { RecentRequests } from "./recent.ts";
import { Sampler } from "./series.ts";
import { SessionStore, type SessionOptions } from "./session.ts";

export interface ConsoleHandle {
  handle: WebHandler;
  stop(): void;
}

export interface StartConsoleOptions {
  adapter: RuntimeAdapter;
  /** The folder the host was started on: its bench-results/bench.json is the bench page's. */
  dir: string;
  auth: AdminAuth;
  host: Host;
  recent: RecentRequests;
  deploy?: { deployer: Deployer; store: DeployStore };
  /** How long sessions last (tests shorten it); the defaults otherwise. */
  sessions?: SessionOptions;
}

export async function startConsole(o: StartConsoleOptions): Promise<ConsoleHandle> {
  const { adapter } = o;
  const served = () => o.deploy?.deployer.routing.served ?? o.host.functions;
  const sampler = new Sampler({
    figures: () => figuresByName(served()),
    rss: () => adapter.hostRss(),
    cpu: () => {
      const c = adapter.hostCpu();
      return c.user + c.system;
    },
  });
  const ui = await createConsole({
    adapter,
    auth: o.auth,
    served,
    startedAt: Date.now(),
    sampler,
    recent: o.recent,
    ...(o.sessions ? { sessions: new SessionStore(o.sessions) } : {}),
    benchFile: adapter.sys.join(adapter.sys.resolve(o.dir), "bench-results", "bench.json"),
    ...(o.deploy ? { deploy: o.deploy } : {}),
  });
  return {
    handle: ui.handle,
    stop() {
      ui.stop();
      sampler.stop();
    },
  };
}
