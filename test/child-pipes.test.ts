/**
 * A process-lane child whose pipes stay open after it is gone (here a process it started and
 * left behind; in a sandbox, a bwrap that outlived its parent) must not keep the host from
 * stopping: the host reports the child's end a little after its exit, whatever holds the pipes.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { within } from "../runtime/within.ts";
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

test.run();
