/**
 * Gives this test process a lanes cache folder of its own (`LANES_CACHE_DIR`), for a suite
 * whose hosts must not meet another suite's: a host that starts kills the stuck sandboxes that
 * bind its cache folder (adapters/sandbox-process.ts), and `npm test` runs the three runtimes'
 * suites at once, so another suite's host could end a sandbox this suite left stuck on purpose
 * before this suite's host did. Import it first, before anything asks for the cache folder.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { scratchRoot } from "./scratch.ts";

const dir = join(scratchRoot, `cache-${process.pid}`);
mkdirSync(dir, { recursive: true, mode: 0o700 });
process.env.LANES_CACHE_DIR = dir;

/** Remove the folder once no host of this process uses it. */
export function removeOwnCache(): void {
  rmSync(dir, { recursive: true, force: true });
}
