/**
 * A host stopped (SIGTERM) while a deploy loads its version: the deploy is answered 503, saying
 * that nothing was changed, and `lanes deploy` prints it; the store keeps the deployment it had.
 * The version's function takes longer to load than the shutdown's grace: the client saw its
 * connection closed ("other side closed") and no answer. Host on Node, Bun and Deno.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { adapter } from "./helpers/host.ts";
import { api, runCli, scratchDir, sleep, startStoreHost, tokenFile, versionDir } from "./helpers/deploy.ts";

/** A version whose `greet` never finishes loading while the test runs (a top-level await of a 60 s timer). */
function slowVersion(): string {
  const dir = versionDir("slow");
  writeFileSync(join(dir, "greet.ts"), `await new Promise((r) => setTimeout(r, 60_000));\nexport default { fetch: () => new Response("slow") };\n`);
  return dir;
}

async function until(what: string, ok: () => boolean, out: () => string) {
  const end = Date.now() + 60_000;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`${what} did not happen:\n${out()}`);
    await sleep(20);
  }
}

test(`a ${adapter.name} host stopped while a deploy loads answers it 503, nothing changed, and lanes deploy says so`, async () => {
  const [data, tokens] = [join(scratchDir("deploy-stop-"), "store"), tokenFile()];
  const host = await startStoreHost(versionDir("build-1"), data, ["--admin-token-file", tokens]);
  let out = "";
  try {
    const deploying = runCli(["deploy", slowVersion(), "--to", host.url, "--token-file", tokens]);
    // its files written out: the version is being brought up (loading) now
    await until("the deploy's files written out", () => existsSync(join(data, "run", "v2")), host.output);
    host.kill("SIGTERM");
    const said = await deploying;
    out = said.out;
    if (process.env.LANES_TEST_VERBOSE) process.stderr.write(out);
    assert.is(said.code, 1, out);
    assert.match(out, /the host is stopping: nothing was changed/);
    assert.match(out, /deployment 1 \(v1 100%\) stays active/);
    assert.not.match(out, /other side closed|socket|ECONNRESET/i);
    await host.exited;
  } finally {
    host.kill("SIGKILL");
    await host.exited;
  }
  const again = await startStoreHost(versionDir("build-2"), data, ["--admin-token-file", tokens]);
  try {
    const v = await api(again.url, "GET", "versions");
    assert.equal(
      (v.json.active as { stable: string; canary: unknown; revision: number }).revision,
      1,
      `the store's active deployment is still the first: ${JSON.stringify(v.json.active)} (lanes deploy said: ${out})`,
    );
    assert.equal(
      (v.json.versions as { id: string }[]).map((x) => x.id),
      ["v1"],
    );
  } finally {
    again.kill("SIGKILL");
    await again.exited;
  }
});

test.run();
