/**
 * The host's own files (its secrets key, its admin token file, its deploy store) that a folder
 * taken as a new store's version 1 must not grant. Every granted file is copied into the version
 * and mounted in the function's sandbox, so a grant of the key file handed a sandboxed function
 * the key (README, "What a function can reach": the sandbox sees neither the store nor the key).
 */
import type { Sys } from "../../adapters/types.ts";
import { type OwnFile, within } from "../compile-inputs.ts";
import { LanesError } from "../errors.ts";
import type { Manifest } from "../manifest/load.ts";

export type { OwnFile };

/** Throws invalid_manifest naming each grant that is, holds or lies inside one of `own`. */
export async function refuseGrantedOwnFiles(manifest: Manifest, own: readonly OwnFile[], sys: Sys): Promise<void> {
  const real = async (p: string) => sys.realpath(sys.resolve(p)).catch(() => sys.resolve(p));
  const mine = await Promise.all(own.map(async (o) => ({ ...o, real: await real(o.path) })));
  const problems: string[] = [];
  for (const spec of manifest.functions) {
    for (const field of ["read", "write"] as const) {
      for (const [i, abs] of spec.permissions[field].entries()) {
        const granted = await real(abs);
        const hit = mine.find((o) => within(sys, o.real, granted) || within(sys, granted, o.real));
        if (hit) {
          problems.push(
            `functions.${spec.name}.permissions.${field}.${i}: grants this host's ${hit.flag} ${hit.path}, which no function may see: move it out of ${manifest.dir} or drop the grant (got ${JSON.stringify(sys.relative(manifest.dir, abs))})`,
          );
        }
      }
    }
  }
  if (problems.length > 0) throw new LanesError("invalid_manifest", `${manifest.file}: invalid manifest\n  ${problems.join("\n  ")}`);
}
