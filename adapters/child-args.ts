/**
 * Command-line flags for a process-lane child, per child runtime. The child may run a different
 * runtime than the host; the flags depend only on the child's runtime.
 */
import type { ChildOptions } from "./types.ts";

export function childArgs(o: ChildOptions, file: string): string[] {
  switch (o.runtime) {
    case "node":
      // --max-old-space-size: the child aborts (SIGABRT) at the limit (runtime-matrix P4g)
      return [`--max-old-space-size=${o.heapMb}`, "--no-warnings", file];
    case "deno":
      // Deno children get only what a function needs: read its bundle, env (exactly the
      // manifest's: the host passes no other), network. --v8-flags caps the heap (SIGTRAP).
      return [
        "run",
        "--quiet",
        "--no-prompt",
        "--no-config",
        "--no-lock",
        `--allow-read=${o.readable.join(",")}`,
        "--allow-env",
        "--allow-net",
        `--v8-flags=--max-old-space-size=${o.heapMb}`,
        file,
      ];
    case "bun":
      // Bun has no heap flag (--smol does not cap): the pool's RSS watchdog enforces memoryMb.
      return [file];
  }
}
