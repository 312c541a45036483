/**
 * Which process of a sandbox the host measures (adapters/sandbox-process.ts): the runtime below
 * bwrap and the sandbox's PID 1, whatever it calls itself. The memory watchdog reads that
 * process's RSS and threads; a function may rename its own process (/proc/self/comm), and one
 * named "bwrap" hid from it. Needs bubblewrap.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { sandboxedPid } from "../adapters/sandbox-process.ts";
import { waitFor } from "./helpers/chaos.ts";

const childrenOf = (pid: number): number[] =>
  readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").split(" ").filter(Boolean).map(Number));
const commOf = (pid: number) => readFileSync(`/proc/${pid}/comm`, "utf8").trim();

test("the process measured in a sandbox is its runtime, even one that named itself bwrap", async () => {
  // a shell in a sandbox that names itself bwrap, then waits on its stdin (a builtin: no child)
  const script = "printf bwrap > /proc/self/comm; read -r line";
  const outer = spawn("bwrap", ["--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "bash", "-c", script], {
    stdio: ["pipe", "ignore", "inherit"],
  });
  try {
    // bwrap (ours) → bwrap (the sandbox's PID 1) → bash, once bash has renamed itself
    let inner = 0;
    await waitFor(() => {
      const pid1 = childrenOf(outer.pid!)[0];
      inner = pid1 === undefined ? 0 : (childrenOf(pid1)[0] ?? 0);
      return inner > 0 && commOf(inner) === "bwrap";
    }, "the shell in the sandbox named itself bwrap");
    assert.is(sandboxedPid(outer.pid!), inner);
  } finally {
    outer.kill("SIGKILL");
  }
});

test.run();
