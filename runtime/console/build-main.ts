/** `npm run console`: write runtime/console/assets/console.js (see build.ts). */
import { build } from "esbuild";
import { BUILD_OPTIONS, BUNDLE_FILE } from "./build.ts";

await build({ ...BUILD_OPTIONS, write: true });
console.log(`wrote ${BUNDLE_FILE}`);
