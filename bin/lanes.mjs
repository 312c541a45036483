#!/usr/bin/env node
// `lanes` as an npm bin on Node: register tsx so the TypeScript sources run as they are.
import { register } from "tsx/esm/api";

register();
await import("../runtime/cli/lanes.ts");
