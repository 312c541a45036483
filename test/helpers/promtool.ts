/**
 * Prometheus' own parser and linter of the text exposition format (`promtool check metrics`),
 * from PATH or where `.ci/promtool` puts it. Missing, it fails loudly: the check is the point.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const local = fileURLToPath(new URL("../../.lanes/tools/promtool", import.meta.url));

function promtool(): string {
  if (existsSync(local)) return local;
  const which = spawnSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error("promtool not found: run `bash .ci/promtool` (it extracts promtool from Debian's prometheus package) or install Prometheus");
}

/** promtool's verdict on an exposition: exit code 0 and no output when it parses and lints clean. */
export function checkMetrics(text: string): { code: number | null; output: string } {
  const r = spawnSync(promtool(), ["check", "metrics"], { input: text, encoding: "utf8", timeout: 30_000 });
  return { code: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}
