// Loaded with `node --import` before a Node suite's bundle (test/run.mjs): stack traces name the
// test and source files, as under tsx. Not `--enable-source-maps`: isolate-lane workers would
// inherit it (adapters/node-worker.ts) and parse their guest's source maps, as no user's do.
process.setSourceMapsEnabled(true);
