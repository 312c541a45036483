/**
 * Turns a functions folder into the files of a version, on the machine that deploys: the
 * manifest is validated as `lanes start` would, each function is bundled with its imports
 * (the host has no access to this machine's node_modules), and the manifest is rewritten so
 * each entry names its bundle. The host compiles and loads those bundles like any entry. The
 * files under the paths a function is granted go as they are (granted.ts).
 * A new store takes the folder it starts on as version 1 the same way.
 */
import { build, type BuildFailure } from "esbuild";
import type { RuntimeName, Sys } from "../../adapters/types.ts";
import { formatMessage } from "../compile.ts";
import { checkInputs, type OwnFile } from "../compile-inputs.ts";
import { LanesError } from "../errors.ts";
import { loadManifest, MANIFEST_FILE, type Manifest } from "../manifest/load.ts";
import { grantedFiles } from "./granted.ts";

export interface Packed {
  manifest: Manifest;
  /** Relative path: bytes. `lanes.json`, `bundles/<function>.mjs` and the granted files. */
  files: Map<string, Uint8Array>;
  bytes: number;
  /** How many of `files` are granted files, and their bytes. */
  granted: { files: number; bytes: number };
}

const encoder = new TextEncoder();

/** `own`: on a host taking the folder as version 1, its own files, which no bundle may hold (../compile-inputs.ts). */
export async function packFolder(dir: string, sys: Sys, runtime: RuntimeName, own: readonly OwnFile[] = []): Promise<Packed> {
  const manifest = await loadManifest(dir, sys, runtime);
  const raw = JSON.parse(await sys.readText(manifest.file)) as { $schema?: string; functions: Record<string, { entry: string }> };
  delete raw.$schema; // a path on this machine; the host validates against its own schema
  const bundlePath = (name: string) => `bundles/${name}.mjs`;
  // before bundling: what cannot be deployed is said at once
  const grants = await grantedFiles(manifest, sys, [MANIFEST_FILE, ...manifest.functions.map((spec) => bundlePath(spec.name))]);
  const files = new Map<string, Uint8Array>();
  await Promise.all(
    manifest.functions.map(async (spec) => {
      const path = bundlePath(spec.name);
      files.set(path, encoder.encode(await bundle(spec.entry, spec.name, sys, own)));
      raw.functions[spec.name]!.entry = path;
    }),
  );
  files.set(MANIFEST_FILE, encoder.encode(`${JSON.stringify(raw, null, 2)}\n`));
  const granted = { files: 0, bytes: 0 };
  for (const [path, b] of grants) {
    files.set(path, b);
    granted.files++;
    granted.bytes += b.byteLength;
  }
  let bytes = 0;
  for (const b of files.values()) bytes += b.byteLength;
  // a stable order, so the same folder gives the same upload
  return { manifest, files: new Map([...files].sort(([a], [b]) => (a < b ? -1 : 1))), bytes, granted };
}

/** One ES module with every import inlined but node:* builtins; no source map (paths of this machine). */
async function bundle(entry: string, name: string, sys: Sys, own: readonly OwnFile[]): Promise<string> {
  try {
    const result = await build({
      entryPoints: [entry],
      absWorkingDir: sys.dirname(entry),
      bundle: true,
      format: "esm",
      platform: "node",
      target: "es2022",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs).map((p) => sys.resolve(sys.dirname(entry), p));
    await checkInputs(`functions.${name}`, inputs, { refuse: own }, sys);
    const out = result.outputFiles[0];
    if (!out) throw new LanesError("compile_failed", `${name}: esbuild produced no output`);
    return out.text;
  } catch (e) {
    if (e instanceof LanesError) throw e;
    const first = (e as BuildFailure).errors?.[0];
    if (first?.location) first.location.file = sys.resolve(sys.dirname(entry), first.location.file);
    throw new LanesError("compile_failed", `functions.${name}: ${first ? formatMessage(first) : String(e)}`, { cause: e });
  }
}
