/**
 * `lanes new NAME [--lane isolate|process] [dir]`: writes `NAME.ts` from a template and adds
 * it to the folder's `lanes.json` (created if the folder has none). A running `lanes dev`
 * picks the new function up by itself.
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { LanesError } from "../errors.ts";
import { MANIFEST_FILE, routeKey, withoutBom } from "../manifest/load.ts";
import { isReservedPath, LANES, NAME_PATTERN, NAME_RULE, RESERVED_RULE } from "../manifest/schema.ts";
import { parseArgs, stringFlag } from "./args.ts";
import { defaultFunctionsDir, packageDir } from "./dir.ts";
import { addFunction } from "./new-manifest.ts";

const NAME = new RegExp(NAME_PATTERN);
export const NEW_FLAGS = { lane: "string" } as const;

export async function newCommand(adapter: RuntimeAdapter, argv: string[]): Promise<number> {
  const { sys } = adapter;
  const args = parseArgs(argv, NEW_FLAGS, "new");
  const [name, dirArg, ...extra] = args.positionals;
  // a bad argument is a usage error (exit 2); a clash with what the folder holds is not (exit 1)
  const fail = (msg: string) => new LanesError("invalid_flag", `lanes new: ${msg}`);
  const clash = (msg: string) => new LanesError("invalid_manifest", `lanes new: ${msg}`);
  if (!name) throw fail("give the function a name");
  if (extra.length > 0) throw fail(`unexpected ${JSON.stringify(extra[0])}`);
  if (!NAME.test(name)) {
    throw fail(`${JSON.stringify(name)} is not a valid function name: a name ${NAME_RULE} (e.g. "resize-image")`);
  }
  // the manifest's own rule for the route it will be given, so that `lanes validate` accepts what this writes
  const route = `/${name}`;
  if (isReservedPath(route)) throw fail(`NAME ${JSON.stringify(name)} would give the function the route ${route}, and ${RESERVED_RULE}`);
  const lane = stringFlag(args, "lane", "isolate");
  if (!(LANES as readonly string[]).includes(lane)) throw fail(`--lane must be "isolate" or "process" (got ${JSON.stringify(lane)})`);

  const cwd = sys.resolve(adapter.cwd());
  // in this package's own folder the examples are the functions folder; anywhere else, the user's folder
  const inPackage = cwd === sys.resolve(packageDir()) && !(await sys.isFile(sys.join(cwd, MANIFEST_FILE)));
  const dir = sys.resolve(dirArg ?? (inPackage ? defaultFunctionsDir() : cwd));
  const manifestFile = sys.join(dir, MANIFEST_FILE);
  const entryFile = sys.join(dir, `${name}.ts`);
  // else mkdir or the write failed with a stack trace (EEXIST, ENOTDIR, EISDIR)
  const dirKind = await sys.entryKind(dir);
  if (dirKind !== undefined && dirKind !== "folder" && dirKind !== "link") throw clash(`${dir} is not a folder: give the folder of the functions (or a new one)`);
  const manifestKind = await sys.entryKind(manifestFile);
  if (manifestKind !== undefined && manifestKind !== "file" && manifestKind !== "link") throw clash(`${manifestFile} is not a file`);
  const hasManifest = await sys.isFile(manifestFile);
  const text = hasManifest ? await sys.readText(manifestFile) : '{\n  "functions": {}\n}\n';
  let functions: Record<string, { route?: string }>;
  try {
    functions = (JSON.parse(withoutBom(text)) as { functions?: Record<string, { route?: string }> }).functions ?? {};
  } catch {
    throw clash(`${manifestFile} is not valid JSON; fix it first (\`lanes validate ${dirArg ?? ""}\` shows where)`);
  }
  if (Object.hasOwn(functions, name)) throw clash(`a function named "${name}" already exists in ${manifestFile}`);
  // the same route as the manifest's check of clashes sees it (a function at "/b/" serves "/b")
  const key = routeKey(route);
  const taken = Object.entries(functions).find(([n, f]) => routeKey(String(f?.route ?? `/${n}`)) === key);
  if (taken) throw clash(`route ${route} is already served by function "${taken[0]}" in ${manifestFile}`);
  if (await sys.exists(entryFile)) throw clash(`${entryFile} already exists; pick another name, or add it to ${MANIFEST_FILE} by hand`);

  const updated = addFunction(withoutBom(text), name, { entry: `${name}.ts`, route, lane });
  try {
    await sys.mkdirp(dir);
  } catch (e) {
    throw clash(`cannot make the folder ${dir} (${e instanceof Error ? e.message : String(e)})`);
  }
  // the entry first: a running `lanes dev` reloads on the manifest and must find the file
  await sys.writeText(entryFile, template(name, lane));
  await sys.writeText(manifestFile, updated);
  // `npx lanes dev` finds the folder by itself when it is the current one
  const rel = sys.relative(cwd, dir);
  const devArg = rel === "" ? "" : ` ${/^[\w./-]+$/.test(rel) ? rel : JSON.stringify(rel)}`;
  adapter.writeOut(
    `created ${entryFile}\n${hasManifest ? "added" : "created"} ${manifestFile}: "${name}" in the ${lane} lane at ${route}\n` +
      `try it: npx lanes dev${devArg}   then: curl http://127.0.0.1:8787${route}\n`,
  );
  return 0;
}

function template(name: string, lane: string): string {
  return `/** ${name}: a lanes function in the ${lane} lane. \`npx lanes dev\` reloads it when you save. */
import type { Context, ExportedHandler } from "lanes";

export default {
  async fetch(request: Request, env: Record<string, string>, ctx: Context): Promise<Response> {
    const visits = await ctx.shared.add("visits", 1); // shared by every instance of ${name}
    const url = new URL(request.url);
    return Response.json({
      message: "hello from ${name}",
      lane: ctx.lane,
      method: request.method,
      path: url.pathname,
      env: Object.keys(env),
      visits,
    });
  },
} satisfies ExportedHandler;
`;
}
