/** The machine a run measured: results are only comparable on the same one. */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";

export function machine() {
  const cpus = os.cpus();
  let cpuModel = cpus[0]?.model ?? "unknown";
  try {
    cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? cpuModel;
  } catch {
    // not Linux: os.cpus() is enough
  }
  return {
    cpuModel,
    cores: typeof os.availableParallelism === "function" ? os.availableParallelism() : cpus.length,
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    os: `${os.type()} ${os.release()}`,
  };
}

export function packageVersion(name: string): string {
  try {
    const require = createRequire(import.meta.url);
    const file = name === "lanes" ? new URL("../../package.json", import.meta.url) : require.resolve(`${name}/package.json`);
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}
