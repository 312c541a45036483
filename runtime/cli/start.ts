/** `lanes start` and `lanes dev`: serve a folder of functions until SIGINT/SIGTERM. */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { capabilityTable } from "../capability-table.ts";
import { startHost } from "../host/host.ts";
import type { Logger } from "../log.ts";
import { intFlag, parseArgs, stringFlag } from "./args.ts";
import { defaultFunctionsDir } from "./main.ts";

const SHUTDOWN_GRACE_MS = 5000;

export async function startCommand(
  adapter: RuntimeAdapter,
  argv: string[],
  o: { dev: boolean; log: Logger; command: string },
): Promise<number> {
  const args = parseArgs(argv, { port: "string", host: "string", strict: "boolean" }, o.command);
  const port = intFlag(args, "port", 8787, o.command, 0, 65535);
  const hostname = stringFlag(args, "host", "127.0.0.1");
  const dir = args.positionals[0] ?? defaultFunctionsDir();
  const t0 = performance.now();
  const host = await startHost({ dir, port, hostname, dev: o.dev, adapter, log: o.log, strict: args.flags.strict === true });
  o.log.info(`lanes ${o.command} on ${adapter.name} ${adapter.version}: ${host.manifest.file}`);
  for (const l of capabilityTable(host.functions.map((f) => f.spec), adapter)) o.log.info(`  ${l}`);
  o.log.info(`ready in ${Math.round(performance.now() - t0)} ms`);
  adapter.writeOut(`listening on ${host.url}\n`);
  return serveUntilSignal(adapter, o.log, (graceMs) => host.stop(graceMs));
}

/** Wait for SIGINT/SIGTERM, stop gracefully (a second signal stops at once), exit 0. */
export async function serveUntilSignal(adapter: RuntimeAdapter, log: Logger, stop: (graceMs: number) => Promise<void>): Promise<never> {
  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = () => {
      if (++signals > 1) adapter.exit(1); // a second Ctrl-C: stop now
      log.info("stopping: finishing in-flight requests");
      void stop(SHUTDOWN_GRACE_MS).then(resolve);
    };
    adapter.onSignal("SIGINT", onSignal);
    adapter.onSignal("SIGTERM", onSignal);
  });
  // Exit explicitly: Deno does not exit by itself while a terminated worker still spins (runtime-matrix P1).
  adapter.exit(0);
}
