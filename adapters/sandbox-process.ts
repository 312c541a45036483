/**
 * What bwrap hides from the host about the runtime it runs (adapters/README.md, Sandbox): the
 * signal the runtime died of, and its process id.
 */
import { readFileSync } from "node:fs";
import { constants as os } from "node:os";

const signalNames = new Map(Object.entries(os.signals).map(([name, n]) => [n as number, name]));

/**
 * bwrap exits with 128 + N when the runtime inside died of signal N (measured: SIGABRT → 134,
 * SIGTRAP → 133, SIGKILL → 137). Turn that back into the signal, so an out-of-memory abort
 * reads the same with or without the sandbox.
 */
export function sandboxExit(code: number | null, signal: string | null): { code: number | null; signal: string | null } {
  if (code !== null && code > 128 && code < 128 + 65) {
    const name = signalNames.get(code - 128);
    if (name) return { code: null, signal: name };
  }
  return { code, signal };
}

/**
 * The runtime's process id on the host: bwrap (our child) → bwrap (PID 1 of the sandbox) →
 * the runtime. Undefined until the runtime has been started.
 */
export function sandboxedPid(bwrapPid: number): number | undefined {
  let pid = bwrapPid;
  for (let depth = 0; depth < 4; depth++) {
    const kids = childrenOf(pid);
    if (kids.length === 0) return undefined;
    pid = kids[0]!;
    if (commOf(pid) !== "bwrap") return pid;
  }
  return undefined;
}

/**
 * SIGKILL every process below our bwrap child, down to the runtime. Killing the outer bwrap
 * alone left the sandbox's PID 1 (the inner bwrap) alive twice on 2026-12-02 (a child killed
 * right after its spawn), orphaned and holding the child's pipes open.
 */
export function killSandboxed(bwrapPid: number): void {
  let pid = bwrapPid;
  for (let depth = 0; depth < 4; depth++) {
    const kids = childrenOf(pid);
    if (kids.length === 0) return;
    for (const kid of kids) {
      try {
        process.kill(kid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    pid = kids[0]!;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}
