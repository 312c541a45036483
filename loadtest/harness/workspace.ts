/**
 * Where the bench's manifests live. A cell's manifest puts one function in one lane, and
 * `lanes start` only reads `DIR/lanes.json` with entries inside DIR, so the bench mirrors the
 * user's folder into `DIR/.lanes/bench-PID/` (inside DIR, so bare imports still resolve from the
 * user's node_modules) and rewrites the mirror's lanes.json before each host starts. The user's
 * own files are never touched.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FunctionInput, ManifestInput } from "../../runtime/manifest/schema.ts";

const SKIP = new Set(["node_modules", ".lanes", ".git", "bench-results"]);
const CRASH_FIXTURE = fileURLToPath(new URL("./crash-fn.ts", import.meta.url));
export const CRASH_ENTRY = "__lanes_bench_crash.ts";

export class Workspace {
  readonly dir: string;
  /** The user's manifest entries, as written. */
  readonly raw: Record<string, FunctionInput>;

  private constructor(source: string, out: string) {
    this.dir = join(source, ".lanes", `bench-${process.pid}`);
    const skip = new Set(SKIP);
    if (dirname(out) === source) skip.add(basename(out));
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    for (const name of readdirSync(source)) {
      if (!skip.has(name)) cpSync(join(source, name), join(this.dir, name), { recursive: true });
    }
    cpSync(CRASH_FIXTURE, join(this.dir, CRASH_ENTRY));
    this.raw = (JSON.parse(readFileSync(join(source, "lanes.json"), "utf8")) as ManifestInput).functions;
  }

  static create(source: string, out: string): Workspace {
    return new Workspace(source, out);
  }

  /** The mirror's lanes.json: just these functions. Call only while no host is starting. */
  writeManifest(functions: Record<string, FunctionInput>): void {
    const manifest: ManifestInput = { functions };
    writeFileSync(join(this.dir, "lanes.json"), JSON.stringify(manifest, null, 2));
  }

  /**
   * A function as the user declared it, moved to `lane`, with no warm instance so the first
   * request shows the cold start and memory is measured before and after one instance starts.
   */
  entryIn(name: string, lane: "isolate" | "process"): FunctionInput {
    const { runtime, instances, ...rest } = this.raw[name]!;
    return {
      ...rest,
      lane,
      ...(lane === "process" && runtime ? { runtime } : {}),
      instances: { ...instances, min: 0 },
    };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
