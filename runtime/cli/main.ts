/**
 * `lanes`: the command line. It runs on whichever runtime starts it; that runtime is the host.
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { createLogger } from "../log.ts";
import { benchCommand } from "./bench.ts";
import { deployCommand } from "./deploy.ts";
import { devCommand } from "./dev.ts";
import { loadCommand } from "./load.ts";
import { newCommand } from "./new.ts";
import { manifestJsonSchema } from "../manifest/json-schema.ts";
import { startCommand } from "./start.ts";
import { validateCommand } from "./validate.ts";

const USAGE = `lanes: serverless functions in an isolate lane (worker threads) or a process lane (child processes)

usage:
  lanes start [dir] [--port 8787] [--host 127.0.0.1]   serve the functions in dir (default: the repo's functions/)
              [--data DIR] [--admin-token-file FILE] [--max-upload-mb 32] [--log pretty|json]
                                                        --data: keep versions and deployments in DIR and serve the
                                                        active one (an empty DIR takes dir as version 1); a token
                                                        (file, or LANES_ADMIN_TOKEN) turns on the admin API
              [--store etcd://HOST:PORT[,HOST:PORT...]/PREFIX] [--advertise URL]
                                                        --store: versions and deployments in etcd, shared by every
                                                        host started on it: each follows the active deployment;
                                                        --advertise: where the others reach this host
  lanes dev [dir] [--port 8787] [--host 127.0.0.1] [--log pretty|json]
                                                        the same, reloading a function when its files change,
                                                        one log line per request, stacks in error responses
  lanes new NAME [--lane isolate|process] [dir]         write NAME.ts from a template and add it to lanes.json
  lanes validate [dir]                                  check the manifest and that every entry loads
  lanes bench [dir] [--function f] [--lanes isolate,process] [--runtimes node,bun,deno]
              [--duration s] [--connections n] [--out dir] [--quick]
                                                        load-test each function in each lane (default dir: loadtest/)
  lanes load URL [--rate R | --connections C] [--duration s] [--method M] [--header "k: v"]...
              [--body S | --body-file F] [--threshold EXPR]... [--json FILE] [--out dir] [--compare FILE]
              [--max-connections N] [--timeout s]
                                                        load-test any endpoint: --rate R holds R requests/s whatever the
                                                        server does (latency from each request's intended start), else
                                                        C connections (default 10); a broken threshold exits 1
  lanes schema                                          print the manifest's JSON Schema

deploying to a host started with --data and an admin token (token: --token-file FILE or LANES_TOKEN):
  lanes deploy [dir] --to URL [--tag T] [--message M] [--percent N] [--if-version V] [--auto-rollback] [--json]
              [--wait [--wait-timeout 30]]              validate and bundle here, upload, switch every route at once
                                                        (--percent N: N% of requests to the new version; --wait: until
                                                        every live host of a shared store serves it, or say which not)
  lanes versions --to URL [--json]                      versions and deployments, newest first (and, on a shared
                                                        store, which host serves which version)
  lanes promote --to URL [--if-version V] [--json]      the new version of a gradual deployment to 100%
  lanes rollback [VERSION] --to URL [--if-version V] [--json]
                                                        back to the previous (or named) version at 100%
`;

export async function main(adapter: RuntimeAdapter, argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const log = createLogger(adapter.writeErr);
  switch (command) {
    case "start":
      return startCommand(adapter, rest, { dev: false, log, command });
    case "dev":
      return devCommand(adapter, rest);
    case "new":
      return newCommand(adapter, rest);
    case "validate":
      return validateCommand(adapter, rest, log);
    case "bench":
      return benchCommand(adapter, rest, log);
    case "deploy":
    case "versions":
    case "promote":
    case "rollback":
      return deployCommand(adapter, command, rest);
    case "load":
      return loadCommand(adapter, rest);
    case "schema":
      adapter.writeOut(manifestJsonSchema());
      return 0;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      adapter.writeOut(USAGE);
      return command === undefined ? 1 : 0;
    default:
      adapter.writeErr(`lanes: unknown command "${command}"\n\n${USAGE}`);
      return 1;
  }
}


