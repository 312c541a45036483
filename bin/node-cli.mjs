// The lanes CLI for Node as one prebuilt ES module. Node 20 cannot run TypeScript itself; tsx can,
// but its loader answers every import through a hooks thread: loading the CLI's ~190 modules
// that way took 0.7-0.9 s per process, paid again by the host `lanes start` re-executes and by
// every `lanes deploy`. esbuild bundles the same sources once into .lanes/node-cli/, rebuilt
// when a file it was built from changes; starting from it takes 0.3-0.4 s (CONTRIBUTING.md,
// How the Node CLI starts). Where the bundle cannot be built or written, tsx runs the sources
// as before. Other entries run the same way (`runEntry`, bin/node-run.mjs). Plain JavaScript:
// it runs before anything can load TypeScript.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const entry = join(root, "runtime", "cli", "lanes.ts");
const cliDir = join(root, ".lanes", "node-cli");
/**
 * Where the bundle of `file` and its record live: the CLI's in .lanes/node-cli/, another entry's
 * (the bench's direct baseline: bin/node-run.mjs) in a folder of its own under it.
 */
function placeOf(file) {
  const name = basename(file).replace(/\.ts$/, "");
  const dir = file === entry ? cliDir : join(cliDir, "entries", relative(root, file).replace(/\.ts$/, "").replaceAll("/", "_"));
  return { file, name, dir, inputsFile: join(dir, "inputs.json") };
}
/** Builds older than this, but the current one, are removed when a new one is written. */
const STALE_MS = 10 * 60 * 1000;
/**
 * Packages every start loads, bundled in: ES modules without `import.meta`, many files each
 * (@sinclair/typebox alone is 124 modules). The others stay in node_modules: esbuild, tsx and
 * autocannon find files of their own at run time, prom-client and dotenv are CommonJS (their
 * `require` of node:* modules fails inside an ES module bundle), and @opentelemetry/api is loaded
 * by prom-client as well, which must find the same copy.
 */
const BUNDLED = new Set(["hono", "@hono/node-server", "@sinclair/typebox", "comlink"]);
const URL_MARK = "__lanes_module_url__";
const META_MARK = "__lanes_import_meta__";

/** Import the CLI: from its bundle when one is current or can be made, else through tsx. */
export function runCli() {
  return runEntry(entry);
}

/** Import a TypeScript entry of this package (absolute path) the same way. */
export async function runEntry(file) {
  const place = placeOf(file);
  const bundle = current(place) ?? (await rebuild(place));
  if (bundle) {
    mapStacksLazily(dirname(bundle));
    return import(pathToFileURL(bundle).href);
  }
  const { register } = await import("tsx/esm/api");
  register();
  return import(pathToFileURL(file).href);
}

/**
 * A stack trace names the source files and lines, not the bundle's. Not with
 * `process.setSourceMapsEnabled(true)`: Node then reads and decodes the map of every chunk as it
 * loads, 140 ms of CPU for `lanes versions` (CONTRIBUTING.md, How the Node CLI starts). Here a
 * chunk's map is read the first time a stack through it is printed.
 */
export function mapStacksLazily(bundleDir) {
  const prefix = pathToFileURL(bundleDir).href;
  const maps = new Map();
  const mapOf = (url) => {
    if (!maps.has(url)) {
      try {
        maps.set(url, new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, "utf8"))));
      } catch {
        maps.set(url, undefined);
      }
    }
    return maps.get(url);
  };
  Error.prepareStackTrace = (error, frames) => {
    let head;
    try {
      head = Error.prototype.toString.call(error);
    } catch {
      head = "Error";
    }
    const lines = frames.map((frame) => {
      const text = `    at ${frame}`;
      const url = frame.getFileName();
      const line = frame.getLineNumber();
      const column = frame.getColumnNumber();
      if (!url?.startsWith(prefix) || line == null || column == null) return text;
      const at = mapOf(url)?.findEntry(line - 1, column - 1);
      if (!at?.originalSource) return text;
      // the map names its sources relative to itself
      const source = fileURLToPath(new URL(at.originalSource, url));
      return text.replace(`${url}:${line}:${column}`, `${source}:${at.originalLine + 1}:${at.originalColumn + 1}`);
    });
    return [head, ...lines].join("\n");
  };
}

/** The bundle on record, if every file it was built from is as it was then. */
function current({ dir, inputsFile }) {
  try {
    const record = JSON.parse(readFileSync(inputsFile, "utf8"));
    for (const [file, mtimeMs, size] of record.inputs) {
      const s = statSync(join(root, file));
      if (s.mtimeMs !== mtimeMs || s.size !== size) return undefined;
    }
    const bundle = join(dir, record.bundle);
    statSync(bundle);
    return bundle;
  } catch {
    return undefined;
  }
}

async function rebuild({ file, name, dir, inputsFile }) {
  try {
    const esbuild = await import("esbuild");
    const started = Date.now();
    const build = `lanes-${started.toString(36)}-${process.pid}`;
    // where the files go: the maps name their sources relative to it
    const out = await esbuild.build({ ...bundleOptions(esbuild, [file], join(dir, build)), write: false, metafile: true });
    const inputs = Object.keys(out.metafile.inputs).map((file) => {
      const s = statSync(join(root, file));
      return [file, s.mtimeMs, s.size];
    });
    // a file changed while it was read: use nothing that may hold its old text
    if (inputs.some(([, mtimeMs]) => mtimeMs >= started - 1)) return undefined;
    mkdirSync(join(dir, build), { recursive: true });
    for (const f of out.outputFiles) writeFileSync(f.path, f.contents);
    const bundle = join(build, `${name}.mjs`);
    // the record last, by rename: another process reads the old record or the new one, whole
    const tmp = join(dir, `inputs-${process.pid}.json`);
    writeFileSync(tmp, JSON.stringify({ bundle, inputs }));
    renameSync(tmp, inputsFile);
    removeStale(dir, build);
    return join(dir, bundle);
  } catch {
    return undefined;
  }
}

/**
 * How lanes's sources are bundled for Node: the CLI here, and test/run.mjs's bundles of the Node
 * suites. ES modules, split so that commands import what only they need (autocannon, echarts...)
 * when they run, with linked source maps.
 */
export function bundleOptions(esbuild, entryPoints, outdir) {
  return {
    entryPoints,
    // the metafile's paths relative to the package, wherever the command runs
    absWorkingDir: root,
    bundle: true,
    platform: "node",
    format: "esm",
    splitting: true,
    outdir,
    chunkNames: "chunk-[hash]",
    outExtension: { ".js": ".mjs" },
    target: "node20",
    logLevel: "silent",
    sourcemap: "linked",
    plugins: [otherPackagesExternal(), ownModuleUrls(esbuild)],
  };
}

/**
 * Each source file keeps its own `import.meta.url` (lanes finds its guests, functions and assets
 * relative to the file asking). esbuild replaces the expression where it is code, never inside a
 * string; a file using any other `import.meta` field stops the build, and tsx is used instead.
 */
function ownModuleUrls(esbuild) {
  return {
    name: "own-module-urls",
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        const source = readFileSync(args.path, "utf8");
        if (!source.includes("import.meta")) return { contents: source, loader: "ts" };
        const { code } = await esbuild.transform(source, { loader: "ts", format: "esm", define: { "import.meta.url": URL_MARK, "import.meta": META_MARK }, sourcefile: args.path });
        if (code.includes(META_MARK)) throw new Error(`${relative(root, args.path)}: an import.meta field other than url`);
        return { contents: code.replaceAll(URL_MARK, JSON.stringify(pathToFileURL(args.path).href)), loader: "js" };
      });
    },
  };
}

/** A bare import stays an import unless its package is one of `BUNDLED`. */
function otherPackagesExternal() {
  return {
    name: "other-packages-external",
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        const parts = args.path.split("/");
        const name = args.path.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
        return BUNDLED.has(name) ? undefined : { path: args.path, external: true };
      });
    },
  };
}

function removeStale(dir, keep) {
  for (const f of readdirSync(dir)) {
    if (f === keep || !f.startsWith("lanes-")) continue;
    try {
      if (Date.now() - statSync(join(dir, f)).mtimeMs > STALE_MS) rmSync(join(dir, f), { recursive: true, force: true });
    } catch {
      // another process removed it first
    }
  }
}
