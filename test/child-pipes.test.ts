/**
 * A process-lane child whose pipes stay open after it is gone (here a process it started and
 * left behind; in a sandbox, a bwrap that outlived its parent) must not keep the host from
 * stopping: the host reports the child's end a little after its exit, whatever holds the pipes.
 * And what a child's stdin and stdout are: socketpairs from a Node or Bun host, pipes grown to
 * 512 KiB from a Deno host (adapters/pipe-size.ts).
 */
import { readdirSync, readlinkSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { within } from "../runtime/within.ts";
import { servingPid } from "./helpers/chaos.ts";
import { adapter, startTestHost } from "./helpers/host.ts";

test(`a ${adapter.name} host stops although a process left by its child holds the child's pipes`, async () => {
  // no sandbox: its seccomp filter would (rightly) stop the function from starting a process
  const h = await startTestHost({ leaves: { entry: "leaves-a-process.ts", lane: "process", runtime: "node" } }, { top: { sandbox: "off" } });
  let left = 0;
  try {
    const res = await h.fetch("/leaves");
    assert.is(res.status, 200);
    left = ((await res.json()) as { pid: number }).pid;
    assert.ok(left > 0, "the function started a process");
    const started = Date.now();
    // (a timer left pending would keep this test process alive for its full 10 s)
    const stopped = await within(h.stop(), 10_000);
    assert.is.not(stopped, "late", "the host stopped within 10 s");
    assert.ok(Date.now() - started < 10_000);
  } finally {
    if (left > 0) {
      try {
        process.kill(left, "SIGKILL");
      } catch {
        // gone already
      }
    }
  }
});

interface DenoFcntl {
  dlopen(
    path: string,
    symbols: { fcntl: { parameters: ["i32", "i32", "i32"]; result: "i32" } },
  ): { symbols: { fcntl(fd: number, cmd: number, arg: number): number }; close(): void };
}
const F_GETPIPE_SZ = 1032;

test(`a ${adapter.name} host's channel to a child: ${adapter.name === "deno" ? "pipes of 512 KiB" : "socketpairs"}, and 256 KiB cross it whole`, async () => {
  const h = await startTestHost({ echo: { entry: "echo.ts", lane: "process" } });
  try {
    // the start-up check's instance is stopped once it is done: the one serving below is another
    await h.host.checked;
    const body = new Uint8Array(256 * 1024).map((_, i) => (i * 7) & 0xff);
    const res = await h.fetch("/echo", { method: "POST", body });
    assert.equal(new Uint8Array(await res.arrayBuffer()), body);
    const pid = servingPid(h, "echo");
    const ends = [0, 1].map((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`));
    if (adapter.name !== "deno") {
      for (const end of ends) assert.match(end, /^socket:/);
      return;
    }
    for (const end of ends) assert.match(end, /^pipe:/);
    const libc = (globalThis as unknown as { Deno: DenoFcntl }).Deno.dlopen("libc.so.6", { fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" } });
    const sizes: number[] = [];
    for (const fd of readdirSync("/proc/self/fd")) {
      let end = "";
      try {
        end = readlinkSync(`/proc/self/fd/${fd}`);
      } catch {}
      if (ends.includes(end)) sizes.push(libc.symbols.fcntl(Number(fd), F_GETPIPE_SZ, 0));
    }
    libc.close();
    assert.equal(sizes, [512 * 1024, 512 * 1024], "the host's ends of the child's stdin and stdout");
  } finally {
    await h.stop();
  }
});

test.run();
