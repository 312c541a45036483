/**
 * A host that stopped lets its process end: nothing it made (timers, sockets, children) keeps
 * the runtime alive. A program that embeds a host, and every suite here, ends when it is done.
 */
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { adapter } from "./helpers/host.ts";
import { spawnProcess } from "./helpers/spawn.ts";

const main = fileURLToPath(new URL("./helpers/stop-main.ts", import.meta.url));

test(`a ${adapter.name} host stopped after an upload to a function with timeoutMs 120 s lets its process end at once`, async () => {
  const rt = adapter.name;
  const args = rt === "node" ? ["--import", "tsx", main] : rt === "bun" ? [main] : ["run", "-A", main];
  const child = spawnProcess(adapter.runtimeBinary(rt), args);
  let out = "";
  child.onOutput((text) => (out += text));
  // the upload's deadline timer outlived the host by timeoutMs: the process ended 120 s later
  let cancel = () => {};
  const guard = new Promise<undefined>((r) => {
    const t = setTimeout(r, 60_000);
    cancel = () => clearTimeout(t);
  });
  const ended = await Promise.race([child.exited.then(() => Date.now()), guard]);
  cancel();
  if (ended === undefined) child.kill("SIGKILL");
  const said = /\{"status".*\}/.exec(out);
  assert.ok(said, `the host did not serve and stop:\n${out}`);
  const { status, echoed, stoppedAt } = JSON.parse(said[0]) as { status: number; echoed: string; stoppedAt: number };
  assert.is(status, 200);
  assert.is(echoed, "an upload");
  assert.ok(ended !== undefined, "the process was still running 60 s after its host stopped");
  assert.ok(ended - stoppedAt < 20_000, `the process ended ${ended - stoppedAt} ms after its host stopped`);
});

test.run();
