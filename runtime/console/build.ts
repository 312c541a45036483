/**
 * The console's script bundle, runtime/console/assets/console.js: runtime/console/web/ and the
 * ECharts modules it imports, bundled and minified by esbuild. It is committed, so a host serves
 * it without the network and without ECharts installed (ECharts is a dependency of the loadtest
 * workspace, not of the runtime). `npm run console` writes it; test/console-bundle.node.test.ts
 * fails while the committed file differs from what its sources build to.
 */
import { build, type BuildOptions } from "esbuild";

const here = (relative: string) => decodeURIComponent(new URL(relative, import.meta.url).pathname);

export const BUNDLE_FILE = here("./assets/console.js");

const BANNER =
  "// lanes console: built by `npm run console` from runtime/console/web/ (do not edit). ECharts: Apache-2.0, https://www.apache.org/licenses/LICENSE-2.0; ZRender and tslib: their licences at the end.";

export const BUILD_OPTIONS: BuildOptions = {
  entryPoints: [here("./web/main.ts")],
  // paths in the output (licence comments) are relative to the repo, the same on every machine
  absWorkingDir: here("../../"),
  outfile: BUNDLE_FILE,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022", "chrome111", "firefox113", "safari16.2"],
  minify: true,
  legalComments: "eof",
  charset: "utf8",
  logLevel: "warning",
  banner: { js: BANNER },
};

/** The bundle's text, as `npm run console` writes it. */
export async function consoleBundle(): Promise<string> {
  const result = await build({ ...BUILD_OPTIONS, write: false, logLevel: "silent" });
  return result.outputFiles[0]!.text;
}
