/**
 * The command that starts a process-lane child: its runtime's binary and flags, wrapped in the
 * sandbox when the function runs in one (README.md in this folder, Child processes and Sandbox).
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { BODY_FILE_BYTES } from "../runtime/channel/body-file.ts";
import { CHILD_BODY_PATH, type HostBodyFile } from "./body-file.ts";
import { childArgs } from "./child-args.ts";
import { denoHome } from "./deno-home.ts";
import { snapshotBlob } from "./node-snapshot.ts";
import { defaultCacheDir } from "./private-dir.ts";
import { sandboxCommand, type SandboxCommand } from "./sandbox.ts";
import type { ChildOptions, RuntimeName } from "./types.ts";

const lanesRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export function runtimeBinary(host: RuntimeName, want: RuntimeName): string {
  if (want === host) return process.execPath;
  const local = path.join(lanesRoot, "node_modules", ".bin", want);
  if (existsSync(local)) return local;
  return want; // from PATH
}

/**
 * The runtime binary and its flags, wrapped in the sandbox when the function runs in one; the
 * sandbox's extra file descriptors go after the `base` stdio entries.
 */
export function childCommand(file: string, o: ChildOptions, host: RuntimeName, base: number, bodies: HostBodyFile | undefined): SandboxCommand {
  const binary = runtimeBinary(host, o.runtime);
  // not under the inspector: a restored child's sources are the snapshot's, not files to step through
  const blob = o.runtime === "node" && o.snapshotEntry && !o.inspect ? snapshotBlob(o.snapshotEntry, binary, o.heapMb, defaultCacheDir()) : undefined;
  const args = childArgs(o, file, blob, bodies?.bindPath ? CHILD_BODY_PATH : undefined);
  if (!o.sandbox) return { command: binary, args, stdio: [], opened: [] };
  return sandboxCommand({
    binary,
    args,
    files: [blob ?? file, ...o.files],
    grants: o.grants,
    cwd: o.cwd,
    tmpMb: o.heapMb,
    // no file larger than its /tmp could hold anyway (and the body file no larger: body-file.ts);
    // a function that may write its own files has no body file, and no cap
    fileSizeBytes: o.grants.write.length === 0 ? Math.max(o.heapMb * 1024 * 1024, BODY_FILE_BYTES) : undefined,
    bodyFile: bodies?.bindPath ? { from: bodies.bindPath, to: CHILD_BODY_PATH } : undefined,
    seccompFd: base,
    supportDir: defaultCacheDir(),
    pwd: o.env.PWD,
    denoHome: o.runtime === "deno" ? denoHome(file, binary, defaultCacheDir()) : undefined,
    shareNet: o.inspect === true,
  });
}
