/**
 * Compiles a function (TypeScript or JavaScript, with its imports) into one ESM file that a
 * worker or child of any runtime can load. Node 20 workers cannot load .ts at all, and tsx
 * inside each worker costs +225 ms and +16 MB (../adapters/README.md, Workers), so the host compiles once
 * with esbuild and writes the output under a name made of its content hash, in a folder private
 * to the user. A file already there under that name is used only if it holds exactly that
 * output: a planted or damaged file is replaced, never run. What each bundle was built from is
 * remembered (compile-cache.ts): a host that starts again reuses its bundles without esbuild.
 *
 * Packed functions (runtime/pack/) are built as CommonJS: a packed worker runs each one as a
 * script in a context of its own, and a script cannot hold ES module syntax.
 */
import { build, type BuildFailure, type Message } from "esbuild";
import type { Sys } from "../adapters/types.ts";
import { LanesError } from "./errors.ts";
import { noteUse } from "./cache-trim.ts";
import { recordFile, rememberBuild, reuseBuild } from "./compile-cache.ts";
import { checkInputs, type InputRules } from "./compile-inputs.ts";

export interface Compiled {
  /** Absolute path of the .mjs bundle. */
  file: string;
  /** Content hash of the bundle (first 12 hex chars). */
  hash: string;
  /** Absolute paths of every source file that went into it (from esbuild's metafile). */
  inputs: string[];
  /** `inputs` and the dependencies' files (node_modules) too: what must not be writable by a function. */
  sources?: string[];
}

// Bundled CommonJS dependencies may call require() for node builtins; ESM output has no
// require, so give the bundle one (node:module exists on Node, Bun and Deno).
const REQUIRE_SHIM = 'import { createRequire as __lanesCreateRequire } from "node:module";\n' + "const require = __lanesCreateRequire(import.meta.url);";

export interface CompileOptions {
  /** "cjs": for a packed worker's contexts (`import.meta.url` becomes `__lanes_import_meta_url`). */
  format?: "esm" | "cjs";
  /** Put the sources in the map too, for a debugger that cannot read them from disk (`lanes dev --inspect`). */
  sourcesContent?: boolean;
  /** What its inputs may be (compile-inputs.ts): a build that read another file is refused before it is written. */
  inputs?: InputRules;
  /** Lanes' own guest entries: in the cache's root (few, each loaded by one name), not in a `bundleShard`. */
  inRoot?: boolean;
}

export async function compile(entry: string, sys: Sys, label: string, o: CompileOptions = {}): Promise<Compiled> {
  const format = o.format ?? "esm";
  const dir = sys.cacheDir();
  await privateCache(sys, dir);
  // a bundle with its sources in the map is another build of the same entry
  const record = recordFile(sys, dir, entry, label, o.sourcesContent === true ? `${format}+sources` : format);
  const reused = await reuseBuild(sys, record);
  if (reused) {
    await checkInputs(label, reused.sources ?? reused.inputs, o.inputs, sys);
    void noteUse(sys, reused.file);
    void noteUse(sys, record);
    return reused;
  }
  // biome-ignore lint/suspicious/noImplicitAnyLet: its type is the build result the options below give (outputs and metafile present)
  let result;
  try {
    result = await build({
      entryPoints: [entry],
      absWorkingDir: sys.dirname(entry),
      bundle: true,
      format,
      platform: "node",
      target: "es2022",
      write: false,
      metafile: true,
      sourcemap: "inline",
      sourcesContent: o.sourcesContent === true,
      // Sources are relative to absWorkingDir, but a map consumer resolves them against the
      // bundle's own folder (the cache): Deno, which applies inline maps to stacks, then names
      // files that do not exist. An absolute root makes every consumer agree.
      sourceRoot: `${sys.dirname(entry)}/`,
      logLevel: "silent",
      ...(format === "esm" ? { banner: { js: REQUIRE_SHIM } } : { define: { "import.meta.url": "__lanes_import_meta_url" } }),
    });
  } catch (e) {
    const failure = e as BuildFailure;
    const first = failure.errors?.[0];
    // esbuild names the file relative to absWorkingDir; an absolute path is what terminals link
    if (first?.location) first.location.file = sys.resolve(sys.dirname(entry), first.location.file);
    const hint = format === "cjs" && /top-level await/i.test(first?.text ?? "") ? ' (a packed function runs as a script: remove "pack" to use top-level await)' : "";
    throw new LanesError("compile_failed", `${label}: ${first ? formatMessage(first) : String(e)}${hint}`, { cause: e });
  }
  const out = result.outputFiles[0];
  if (!out) throw new LanesError("compile_failed", `${label}: esbuild produced no output`);
  const cwd = sys.dirname(entry);
  const all = Object.keys(result.metafile.inputs).map((p) => sys.resolve(cwd, p));
  await checkInputs(label, all, o.inputs, sys);
  const hash = sys.sha256(out.text).slice(0, 12);
  const shard = o.inRoot ? dir : bundleShard(sys, dir, hash);
  if (!o.inRoot) await sys.mkdirp(shard); // inside the private cache: what it holds is private too
  const file = sys.join(shard, `${label.replace(/[^A-Za-z0-9_-]/g, "_")}-${hash}.${format === "esm" ? "mjs" : "cjs"}`);
  if (!(await holds(sys, file, out.text))) await sys.writeText(file, out.text);
  const inputs = all.filter((p) => !p.includes("node_modules/"));
  const compiled = { file, hash, inputs, sources: all };
  await rememberBuild(sys, record, compiled, all).catch(() => {}); // only a later start's speed depends on it
  return compiled;
}

/**
 * The folder of a bundle: one of 256, by the first two hex digits of its hash. A Bun worker that
 * imports a module it has not seen before leaks about 200 bytes per entry of that module's
 * folder: with all bundles in one folder of 9,000 files, each deploy of an isolate-lane function
 * grew a Bun host by 1.8 MB for good (../adapters/README.md, Workers).
 */
export function bundleShard(sys: Sys, dir: string, hash: string): string {
  return sys.join(dir, "bundles", hash.slice(0, 2));
}

/**
 * The cache folder, private: checked in full once per process (the adapter remembers it), then
 * one stat per compile, so that a folder removed under the host is made again private before a
 * build record's mkdir would make it readable by all.
 */
function privateCache(sys: Sys, dir: string): Promise<void> {
  return sys.ensurePrivateDir(dir).catch((e) => {
    throw new LanesError("unsafe_cache", (e as Error).message, { cause: e });
  });
}

/** The file exists and its content is exactly `text` (so it hashes to the name it has). */
async function holds(sys: Sys, file: string, text: string): Promise<boolean> {
  try {
    return (await sys.readText(file)) === text;
  } catch {
    return false;
  }
}

/** `file:line:column: message`, as editors and terminals link it. */
export function formatMessage(m: Message): string {
  const loc = m.location;
  return loc ? `${loc.file}:${loc.line}:${loc.column + 1}: ${m.text}` : m.text;
}
