/**
 * Where tests make their folders (functions, versions, tokens, keys): inside the repo, so bare
 * imports (hono) resolve from its node_modules as from a user's folder. `npm test` gives each
 * run a folder of its own there (LANES_TEST_TMP, test/run.mjs) and removes it at the end; a suite
 * run by hand uses `.lanes/test-tmp` itself.
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const scratchRoot = process.env.LANES_TEST_TMP ?? fileURLToPath(new URL("../../.lanes/test-tmp/", import.meta.url));

/** A new folder under the scratch root, named `prefix` and six random characters. */
export function scratchDir(prefix: string): string {
  mkdirSync(scratchRoot, { recursive: true });
  return mkdtempSync(join(scratchRoot, prefix));
}
