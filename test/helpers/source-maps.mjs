// Loaded with `node --import` before a Node suite's bundle (test/run.mjs): stack traces name the
// test and source files, as under tsx, each chunk's map read only when a stack through it is
// printed, as the CLI does (bin/node-cli.mjs). Not `--enable-source-maps`: isolate-lane workers
// would inherit it (adapters/node-worker.ts) and parse their guest's source maps, as no user's do.
import { dirname } from "node:path";
import { mapStacksLazily } from "../../bin/node-cli.mjs";

mapStacksLazily(dirname(process.argv[1]));
