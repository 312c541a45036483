/**
 * Command-line flags for a process-lane child, per child runtime. The child may run a different
 * runtime than the host; the flags depend only on the child's runtime.
 */
import { keepingEnv } from "./allocator.ts";
import type { ChildOptions } from "./types.ts";

/** The sandbox's private temp folder (adapters/sandbox.ts). */
const SANDBOX_TMP = "/tmp";

/** The inspector on loopback only, on a port the runtime picks (each prints the URL: README.md in this folder, Inspector). */
const INSPECT = "--inspect=127.0.0.1:0";

/**
 * `blob`: a node child starts restored from this startup snapshot of the guest, not from `file`.
 * `bodyFile`: where a deno child opens its body file (adapters/body-file.ts), granted to it alone.
 */
export function childArgs(o: ChildOptions, file: string, blob?: string, bodyFile?: string): string[] {
  const inspect = o.inspect ? [INSPECT] : [];
  switch (o.runtime) {
    case "node":
      // --max-old-space-size: the child aborts (SIGABRT) at the limit (README.md in this folder, Child processes);
      // a snapshot blob loads only under the flags it was built with (node-snapshot.ts)
      return [`--max-old-space-size=${o.heapMb}`, "--no-warnings", ...inspect, ...(blob ? ["--snapshot-blob", blob] : [file])];
    case "deno":
      // Deno children get the manifest's grants as --allow-* flags, on top of the sandbox (or
      // alone, where there is none): read their entry and bundle, env (exactly the manifest's:
      // the host passes no other). --v8-flags caps the heap (SIGTRAP). --quiet would also hide
      // the inspector's URL.
      return [
        "run",
        ...(o.inspect ? [] : ["--quiet"]),
        "--no-prompt",
        "--no-config",
        "--no-lock",
        ...denoGrants(o, file, bodyFile ? [bodyFile] : []),
        `--v8-flags=--max-old-space-size=${o.heapMb}`,
        ...inspect,
        file,
      ];
    case "bun":
      // Bun has no heap flag (--smol does not cap): the pool's watchdog enforces memoryMb.
      return [...inspect, file];
  }
}

/**
 * What a child's allocator is told, per child runtime (README.md in this folder, Child processes).
 * - bun: mimalloc's purging off (`MIMALLOC_PURGE_DELAY=-1`): Bun gave freed pages back to the OS
 *   between bursts and faulted them in again, and a 256 KiB echo through the process lane cost
 *   2.8 ms of CPU instead of 6.0 without it (../loadtest/README.md, The hot path). The child keeps
 *   its high-water mark until it stops, so the watchdog judges it by its heap once its RSS is over
 *   the limit (watchdog.ts).
 * - deno: glibc keeps what it frees up to 128 MB (or `memoryMb`, if less) and serves arrays up to
 *   4 MB from its heap. With glibc's own thresholds, which move with what was last freed, a deno
 *   child echoing 256 KiB under load gave the top of its heap back after bursts and faulted it in
 *   again: 16-31 page faults and 1.11-1.52 ms of CPU a request, against 0.2-0.9 and 0.80-1.12 ms
 *   with these. Each one alone pins glibc's other thresholds at their low defaults (the trim
 *   threshold alone: 239 faults and 6 ms a request), so all three are set (README.md in this folder,
 *   Child processes). Capped by `memoryMb`, what a child keeps stays within its RSS backstop
 *   (memoryMb + 128 MB, watchdog.ts) beside what it holds.
 * - node: the same, for the same reason (Node's ArrayBuffers come from glibc too): under `body`
 *   8-9 page faults a request, and 15% more CPU, without them (README.md in this folder, Child processes).
 */
function allocatorEnv(o: ChildOptions): Record<string, string> {
  return keepingEnv(o.runtime, Math.min(128, o.heapMb));
}

/**
 * The environment a child starts with: the manifest's env (the guest hands the function exactly
 * that, whatever else the process holds), over its allocator's settings (`allocatorEnv`), which
 * the manifest's env can change.
 */
export function childEnv(o: ChildOptions): Record<string, string> {
  return { ...allocatorEnv(o), ...o.env };
}

function denoGrants(o: ChildOptions, file: string, bodyFile: string[]): string[] {
  const tmp = o.sandbox ? [SANDBOX_TMP] : [];
  const read = [file, ...o.files, ...o.grants.read, ...o.grants.write, ...tmp, ...bodyFile];
  const write = [...o.grants.write, ...tmp, ...bodyFile];
  const net = o.grants.net;
  return [
    `--allow-read=${read.join(",")}`,
    ...(write.length > 0 ? [`--allow-write=${write.join(",")}`] : []),
    "--allow-env",
    ...(net === true ? ["--allow-net"] : Array.isArray(net) && net.length > 0 ? [`--allow-net=${net.join(",")}`] : []),
  ];
}
