/** Runs the oracle (oracle-main.ts) in a bare process of a runtime and collects its outcomes. */
import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { RuntimeName } from "../../../adapters/types.ts";
import { adapter } from "../host.ts";
import type { Outcome } from "./outcome.ts";
import type { RequestSpec } from "./raw-client.ts";

const main = fileURLToPath(new URL("./oracle-main.ts", import.meta.url));

function command(rt: RuntimeName): [string, string[]] {
  const bin = adapter.runtimeBinary(rt);
  if (rt === "node") return [bin, ["--import", "tsx", main]];
  if (rt === "bun") return [bin, [main]];
  return [bin, ["run", "-A", main]];
}

export function oracle(rt: RuntimeName, module: string, base: string, specs: RequestSpec[]): Promise<Outcome[]> {
  const [cmd, args] = command(rt);
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
