/**
 * What a function's build may read. esbuild inlines any file a module imports with
 * `with { type: "text" }` (or `"bytes"`, or a `.json`/`.txt` by its name), and the host builds
 * each function itself: without a check, `import key from "/etc/lanes/secrets.key" with { type:
 * "text" }` put the host's secrets key (or its admin token, or a store's file) in a sandboxed
 * function's bundle, which the sandbox then handed it (../README.md, "What a function can
 * reach"). So a build is refused when one of its inputs is one of the host's own files, and, on a
 * host with a deploy store, when one lies outside the version's folder (a deployed bundle holds
 * all its code: runtime/deploy/pack.ts).
 */
import type { Sys } from "../adapters/types.ts";
import { LanesError } from "./errors.ts";

/** A file or folder of the host, by the flag that named it (host/own-files.ts). */
export interface OwnFile {
  flag: string;
  path: string;
}

export interface InputRules {
  /** Where a host with a store writes its versions: every input must lie there, in its function's own version's folder (forFolder). */
  inside?: string;
  /** No input may be, or lie in, one of these. */
  refuse?: readonly OwnFile[];
}

/** Whether `p` is `folder` or lies in it (both absolute). */
export function within(sys: Sys, p: string, folder: string): boolean {
  const rel = sys.relative(folder, p);
  return rel === "" || (!rel.startsWith("..") && !sys.isAbsolute(rel));
}

/**
 * The rules for a function of the manifest in `dir`, one of the versions `inside` holds: its inputs
 * lie in that version's own folder. Anywhere in `inside`, a version built from ../v1/... was
 * deployed, and could not compile again once v1's folder went (a rollback to it, a restart).
 */
export function forFolder(rules: InputRules, dir: string): InputRules {
  return rules.inside === undefined ? rules : { ...rules, inside: dir };
}

/** Throws compile_failed naming the first input `rules` refuse; `label` names the function. */
export async function checkInputs(label: string, inputs: readonly string[], rules: InputRules | undefined, sys: Sys): Promise<void> {
  if (!rules || (!rules.inside && !rules.refuse?.length)) return;
  // esbuild names the real path of what it read; a folder named through a link is compared by its real path too
  const real = (p: string) => sys.realpath(sys.resolve(p)).catch(() => sys.resolve(p));
  const inside = rules.inside ? [rules.inside, await real(rules.inside)] : undefined;
  const own = await Promise.all((rules.refuse ?? []).map(async (o) => ({ ...o, real: await real(o.path) })));
  for (const input of inputs) {
    const hit = own.find((o) => within(sys, input, o.real) || within(sys, input, sys.resolve(o.path)));
    if (hit) throw new LanesError("compile_failed", `${label}: imports ${input}, this host's ${hit.flag}, which no function may read`);
    if (inside && !inside.some((folder) => within(sys, input, folder))) {
      throw new LanesError("compile_failed", `${label}: imports ${input}, outside its version's folder ${rules.inside} (a deployed version holds all its code)`);
    }
  }
}
