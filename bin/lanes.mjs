#!/usr/bin/env -S node --max-semi-space-size=64
// (a larger young generation for the host: README, Operating: the host's heap)
// `lanes` on Node: the CLI from its prebuilt bundle (node-cli.mjs), or through tsx.
import { runCli } from "./node-cli.mjs";

await runCli();
