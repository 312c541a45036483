/**
 * The console's committed script bundle (runtime/console/assets/console.js) is what its sources
 * build to, and it needs nothing from the network: a host serves the console as it is, offline.
 */
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BUNDLE_FILE, consoleBundle } from "../runtime/console/build.ts";

const committed = readFileSync(BUNDLE_FILE, "utf8");

test("runtime/console/assets/console.js is what runtime/console/web/ builds to (npm run console)", async () => {
  const built = await consoleBundle();
  // assert.fixture would print a diff of 500 kB of minified code: say what to do instead
  assert.ok(
    built === committed,
    `runtime/console/assets/console.js is out of date: run npm run console and commit it (${built.length} bytes built, ${committed.length} committed)`,
  );
});

test("the console's script and stylesheet load nothing from another site", () => {
  const css = readFileSync(new URL("../runtime/console/assets/console.css", import.meta.url), "utf8");
  assert.not.match(css, /@import|url\(\s*["']?(https?:)?\/\//i, "the stylesheet imports nothing from elsewhere");
  assert.not.match(committed, /\bimport\s*\(\s*["'`]https?:|\bimportScripts\(|from\s*["']https?:/, "the script imports nothing from elsewhere");
});

test.run();
