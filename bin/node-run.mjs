// A TypeScript entry of this package on Node, from its prebuilt bundle as `lanes` runs
// (node-cli.mjs), or through tsx where none can be built:
//   node bin/node-run.mjs FILE [ARGS...]
// The bench runs its `direct` baseline so (loadtest/harness/host-process.ts): through tsx a Node
// process starts in 1.5 s instead of 0.5 and holds 38 MB more, which `lanes start` never pays.
import { resolve } from "node:path";
import { runEntry } from "./node-cli.mjs";

const file = process.argv[2];
if (!file) {
  process.stderr.write("usage: node bin/node-run.mjs FILE [ARGS...]\n");
  process.exit(2);
}
// the entry reads its own arguments from argv[2] on
process.argv.splice(2, 1);
await runEntry(resolve(file));
