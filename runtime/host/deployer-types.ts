/** What a deploy, promote, rollback or follow answers, and what a Deployer is made of. */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import type { Deployment } from "../deploy/model.ts";
import type { DeployStore } from "../deploy/store.ts";
import type { Logger } from "../log.ts";
import type { Host } from "./host.ts";
import type { RequestLog } from "./served.ts";

export interface SwitchResult {
  deployment: Deployment;
  /** The version that is new or now serves. */
  version: string;
  changed: string[];
  unchanged: string[];
  /** Writing, loading and starting the version's functions. */
  loadMs: number;
  /** Keeping it in the store and switching the routes. */
  switchMs: number;
}

export interface DeployerOptions {
  host: Host;
  adapter: RuntimeAdapter;
  store: DeployStore;
  log: Logger;
  runDir: string;
  onRequest?: (entry: RequestLog) => void;
}
