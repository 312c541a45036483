#!/usr/bin/env -S node --max-semi-space-size=64
// (a larger young generation for the host: README, Operating: the host's heap)
// `lanes` as an npm bin on Node: register tsx so the TypeScript sources run as they are.
import { register } from "tsx/esm/api";

register();
await import("../runtime/cli/lanes.ts");
