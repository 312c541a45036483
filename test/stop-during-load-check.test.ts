/**
 * `lanes start` stopped (SIGTERM) while its start-up load check is still starting instances:
 * those instances never had a request, so nothing of theirs (no request in flight, no
 * ctx.waitUntil work) can use the shutdown grace, and the host exits without waiting it out.
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startCli } from "./helpers/cli.ts";
import { adapter } from "./helpers/host.ts";
import { within } from "./helpers/raw-stream.ts";

/** SHUTDOWN_GRACE_MS in runtime/cli/start.ts: a host that waited it out takes at least this long. */
const GRACE_MS = 5000;

test(`lanes start on ${adapter.name}, stopped during its start-up load check, exits before the grace runs out`, async () => {
  // the package's own functions (what `npm start` serves): sandboxed children, isolates and
  // warm spares, all with instances.min 0, which the load check starts once after listening
  const dir = mkdtempSync(join(tmpdir(), "lanes-stop-"));
  cpSync(new URL("../functions/", import.meta.url), dir, { recursive: true });
  try {
    const cli = await startCli(["start", dir, "--port", "0"]);
    // a first request, as a user's first curl; the load check runs meanwhile (it starts right
    // after the "listening on" line and takes a few hundred ms)
    assert.is((await fetch(`${cli.url}/hello`)).status, 200);
    const started = Date.now();
    cli.kill("SIGTERM");
    const exit = await within(cli.exited, 20_000, "exit").catch(() => "late" as const);
    const ms = Date.now() - started;
    if (exit === "late") cli.kill("SIGKILL");
    assert.ok(exit !== "late" && exit.code === 0, `exited 0 (${JSON.stringify(exit)})`);
    assert.match(cli.output(), /stopping: finishing in-flight requests/);
    assert.ok(ms < GRACE_MS, `exited ${ms} ms after SIGTERM, before the ${GRACE_MS} ms grace ran out`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
