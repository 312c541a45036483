#!/usr/bin/env -S node --max-semi-space-size=64
// (a larger young generation for the host: README, Operations: The host's heap)
// `lanes` on Node: the CLI from its prebuilt bundle (node-cli.mjs), or through tsx.
import { setFlagsFromString } from "node:v8";
import { runCli } from "./node-cli.mjs";

// A one-shot command (deploy, versions, secret...) sends a few requests and exits. Its first
// fetch had V8 compile undici's HTTP parser (WebAssembly) with TurboFan in the background, about
// 0.2 s of CPU the process then waited for before it could exit; V8's baseline compiler is
// plenty for a few requests (CONTRIBUTING.md, How the Node CLI starts). Never in a host (the
// functions it serves get V8's optimizing compiler for their own WebAssembly) nor in a load
// generator (autocannon records each request in a WebAssembly histogram).
const KEEPS_TURBOFAN = ["start", "dev", "bench", "load"];
if (!KEEPS_TURBOFAN.includes(process.argv[2] ?? "")) setFlagsFromString("--liftoff-only");

await runCli();
