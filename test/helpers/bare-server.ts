/** Starts bare-server-main.ts in a process of a runtime and gives its URL. */
import { fileURLToPath } from "node:url";
import type { RuntimeName } from "../../adapters/types.ts";
import { adapter } from "./host.ts";
import { spawnProcess } from "./spawn.ts";

const main = fileURLToPath(new URL("./bare-server-main.ts", import.meta.url));

export interface BareServer {
  url: string;
  stop(): Promise<void>;
}

export async function startBareServer(rt: RuntimeName, module: string): Promise<BareServer> {
  const bin = adapter.runtimeBinary(rt);
  const args = rt === "node" ? ["--import", "tsx", main, module] : rt === "bun" ? [main, module] : ["run", "-A", main, module];
  const child = spawnProcess(bin, args);
  let out = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the bare ${rt} server did not listen within 20 s:\n${out}`)), 20_000);
    child.onOutput((text) => {
      out += text;
      const m = /\{"port":(\d+)\}/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void child.exited.then((e) => reject(new Error(`the bare ${rt} server exited (${e.code ?? e.signal}):\n${out}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill("SIGKILL");
      await child.exited;
    },
  };
}
