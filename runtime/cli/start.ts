/** `lanes start`: serve a folder of functions until SIGINT/SIGTERM. */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { capabilityTable } from "../capability-table.ts";
import { startHost } from "../host/host.ts";
import type { Logger } from "../log.ts";
import { parseArgs } from "./args.ts";
import { folderArg } from "./dir.ts";
import { SERVE_FLAGS, serveOptions, serverOutput } from "./serve-flags.ts";

const SHUTDOWN_GRACE_MS = 5000;
export const START_FLAGS = { ...SERVE_FLAGS, strict: "boolean" } as const;

export async function startCommand(adapter: RuntimeAdapter, argv: string[], o: { dev: boolean; command: string }): Promise<number> {
  const args = parseArgs(argv, START_FLAGS, o.command, 1);
  const serve = serveOptions(args, o.command);
  const out = serverOutput(adapter, args, o.command);
  const dir = await folderArg(adapter, args.positionals[0]);
  const t0 = performance.now();
  const host = await startHost({
    dir,
    dev: o.dev,
    adapter,
    log: out.log,
    strict: args.flags.strict === true,
    ...serve,
    ...(out.onRequest ? { onRequest: out.onRequest } : {}),
  });
  out.log.info(`lanes ${o.command} on ${adapter.name} ${adapter.version}: ${host.manifest.file}`);
  for (const l of capabilityTable(host.functions.map((f) => f.spec), adapter)) out.log.info(`  ${l}`);
  if (serve.otlpEndpoint) out.log.info(`exporting a span per request to ${serve.otlpEndpoint} (OTLP/HTTP)`);
  out.log.info(`ready in ${Math.round(performance.now() - t0)} ms`);
  out.listening(host.url);
  return serveUntilSignal(adapter, out.log, async (graceMs) => {
    await host.stop(graceMs);
    out.flush();
  });
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
