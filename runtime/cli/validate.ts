/** `lanes validate`: the manifest, every entry compiles and loads, and which limits this host enforces. */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { capabilityTable } from "../capability-table.ts";
import { limitWarnings } from "../capabilities.ts";
import { isolationReport } from "../isolation.ts";
import { LanesError } from "../errors.ts";
import { compileGuests } from "../host/host.ts";
import type { Logger } from "../log.ts";
import { loadManifest } from "../manifest/load.ts";
import { laneFor } from "../lanes/mod.ts";
import { compileFunction, loadSpec, withBundle } from "../lanes/loadable.ts";
import { PackHouse } from "../pack/house.ts";
import { Instance } from "../pool/instance.ts";
import { startInstance } from "../pool/start.ts";
import { SharedStore } from "../shared/store.ts";
import { parseArgs } from "./args.ts";
import { folderArg } from "./dir.ts";

export async function validateCommand(adapter: RuntimeAdapter, argv: string[], log: Logger): Promise<number> {
  const args = parseArgs(argv, {}, "validate", 1);
  const manifest = await loadManifest(await folderArg(adapter, args.positionals[0]), adapter.sys, adapter.name);
  for (const w of manifest.warnings) log.warn(w);
  const guests = await compileGuests(adapter);
  const store = SharedStore.create({ slots: 16, bytes: 4096 });
  const pack = new PackHouse({ adapter, log, file: guests.pack, maxWorkers: 1, storeFor: () => store });
  const problems: string[] = [];
  for (const w of limitWarnings(manifest.functions, adapter)) log.warn(w);
  const isolation = isolationReport(manifest.functions, adapter);
  for (const w of isolation.warnings) log.warn(w);
  for (const e of isolation.errors) {
    problems.push(e);
    log.error(`FAIL ${e}`);
  }
  for (const l of capabilityTable(manifest.functions, adapter)) log.info(`  ${l}`);
  for (const spec of manifest.functions) {
    if (isolation.errors.length > 0 && spec.lane === "process" && spec.sandbox === "required") continue;
    try {
      const bundle = await compileFunction(spec, adapter.sys);
      // load it for real, in its own lane, exactly as the host would (with the pool's one more
      // try for a guest that never answered its start: runtime/pool/start.ts)
      const made: Instance[] = [];
      const make = (): Instance => {
        const channel = laneFor(spec).spawn(spec, { adapter, log, guests, sharedStore: () => store, pack }, bundle.file);
        const inst = new Instance(channel, {
          log: (level, text) => log.fn(spec.name, level, text),
          dropped: (lines) => log.dropped(spec.name, lines),
          shared: () => null,
          gone: () => {},
          released: () => {},
        });
        made.push(inst);
        return inst;
      };
      try {
        await startInstance(
          make,
          withBundle(loadSpec(spec, spec.env, false), spec, bundle, adapter.sys),
          15_000,
          () => true, // startInstance itself tries once more at most
          (text) => log.warn(`${spec.name}: ${text}`),
        );
      } finally {
        await Promise.all(made.map((inst) => inst.stop()));
      }
      log.info(`ok   ${spec.name} (${spec.lane}${spec.lane === "process" ? `/${spec.runtime}` : spec.pack ? ", packed" : ""}) ${spec.route}`);
    } catch (e) {
      const msg = e instanceof LanesError ? e.message : String(e);
      // a build error names its function already ("a: a.ts:1:52: ...")
      const problem = msg.startsWith(`${spec.name}: `) ? msg : `${spec.name}: ${msg}`;
      problems.push(problem);
      log.error(`FAIL ${problem}`);
    }
  }
  await pack.stop();
  if (problems.length > 0) {
    log.error(`${manifest.file}: ${problems.length} problem(s) in ${manifest.functions.length} function(s)`);
    return 1;
  }
  log.info(`${manifest.file}: ${manifest.functions.length} function(s) ok`);
  return 0;
}
