/**
 * Which folder a command works on when none is given: the current folder when it holds a
 * lanes.json (a user's project), else this package's own functions/ (what `npm start` serves in
 * the repo).
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { MANIFEST_FILE } from "../manifest/load.ts";

/** This package's example functions. */
export function defaultFunctionsDir(): string {
  return decodeURIComponent(new URL("../../functions/", import.meta.url).pathname);
}

/** This package's own folder (where package.json is). */
export function packageDir(): string {
  return decodeURIComponent(new URL("../../", import.meta.url).pathname);
}

/** `given`, else the current folder when it holds a lanes.json, else functions/. */
export async function folderArg(adapter: RuntimeAdapter, given: string | undefined): Promise<string> {
  if (given !== undefined) return given;
  const cwd = adapter.cwd();
  return (await adapter.sys.isFile(adapter.sys.join(cwd, MANIFEST_FILE))) ? cwd : defaultFunctionsDir();
}
