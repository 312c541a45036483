/** Runs the oracle (oracle-main.ts) in a bare process of a runtime and collects its outcomes. */
import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { RuntimeName } from "../../../adapters/types.ts";
import { adapter } from "../host.ts";
import { scratchDir } from "../scratch.ts";
import type { Outcome } from "./outcome.ts";
import type { RequestSpec } from "./raw-client.ts";

const main = fileURLToPath(new URL("./oracle-main.ts", import.meta.url));

/**
 * Node 20 runs no TypeScript: its oracle and the function module are made JavaScript first, by
 * the esbuild that tsx would run on them as they load (packages stay imports from node_modules,
 * as under tsx). Through `--import tsx` the oracle cost a second of CPU more, for tsx's loader.
 */
async function forNode(module: string): Promise<{ main: string; module: string }> {
  const dir = scratchDir("oracle-");
  await build({
    entryPoints: { "oracle-main": main, function: module },
    bundle: true,
    packages: "external",
    format: "esm",
    platform: "node",
    target: "node20",
    outdir: dir,
    outExtension: { ".js": ".mjs" },
    logLevel: "silent",
  });
  return { main: join(dir, "oracle-main.mjs"), module: join(dir, "function.mjs") };
}

async function command(rt: RuntimeName, module: string): Promise<{ cmd: string; args: string[]; module: string }> {
  const bin = adapter.runtimeBinary(rt);
  if (rt === "node") {
    const js = await forNode(module);
    return { cmd: bin, args: [js.main], module: js.module };
  }
  if (rt === "bun") return { cmd: bin, args: [main], module };
  return { cmd: bin, args: ["run", "-A", main], module };
}

export async function oracle(rt: RuntimeName, source: string, base: string, specs: RequestSpec[]): Promise<Outcome[]> {
  const { cmd, args, module } = await command(rt, source);
  const job = JSON.stringify({
    module,
    base,
    specs: specs.map((s) => ({ ...s, body: s.body ? Buffer.from(s.body).toString("base64") : undefined })),
  });
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`the ${rt} oracle exited with ${code}:\n${err}`));
      resolve(JSON.parse(out) as Outcome[]);
    });
    child.stdin!.end(job);
  });
}
