/**
 * What a store several hosts share relies on: when another host changes a secret in the store,
 * SecretKeeper.refresh (which that store's watch calls) restarts the functions whose values
 * changed, and only those. Here "another host" is a second handle on the same store folder,
 * sealing with the same key; the host runs in this process.
 */
import { createHash, randomBytes } from "node:crypto";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { FolderStore } from "../runtime/deploy/folder-store.ts";
import type { DeployHost } from "../runtime/host/deploy-host.ts";
import { SecretsKey } from "../runtime/secrets/crypto.ts";
import { inProcessDeployHost, scratchDir } from "./helpers/deploy.ts";
import { adapter, fixtures } from "./helpers/host.ts";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");
const test = suite<{ d: DeployHost; data: string; keyText: string }>(`secrets changed by another host on ${adapter.name}`);

test.before(async (ctx) => {
  const dir = scratchDir("refresh-");
  cpSync(join(fixtures, "secret.ts"), join(dir, "secret.ts"));
  const functions = {
    uses: { entry: "secret.ts", instances: { min: 1, max: 1 }, env: { KEY: { secret: "SHARED" } } },
    "uses-proc": { entry: "secret.ts", lane: "process", instances: { min: 1, max: 1 }, env: { KEY: { secret: "SHARED" } } },
    unrelated: { entry: "secret.ts", instances: { min: 1, max: 1 } },
  };
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions }));
  ctx.keyText = randomBytes(32).toString("hex");
  ctx.data = join(scratchDir("data-"), "store");
  // the first value is in the store before the host starts, as another host would have left it
  const other = await FolderStore.open(ctx.data, adapter.sys);
  const [key] = await SecretsKey.parse(ctx.keyText, "test key");
  await other.putSecret({ name: "SHARED", function: null, ...(await key!.seal("SHARED", null, "first")), updatedAt: new Date().toISOString(), author: "other-host" });
  ctx.d = await inProcessDeployHost({
    dir,
    data: ctx.data,
    secretsKey: { keys: await SecretsKey.parse(ctx.keyText, "test key"), file: "test key" },
  });
});

test.after(async ({ d }) => {
  await d?.stop(2000);
});

const hashOf = async (d: DeployHost, fn: string) => ((await (await fetch(`${d.host.url}/${fn}`)).json()) as { hashes: Record<string, string> }).hashes.KEY;

test("a value another host put in the store reaches the functions that use it on refresh, and only they restart", async ({ d, data, keyText }) => {
  assert.is(await hashOf(d, "uses"), sha("first"));
  const other = await FolderStore.open(data, adapter.sys);
  const [key] = await SecretsKey.parse(keyText, "test key");
  await other.putSecret({ name: "SHARED", function: null, ...(await key!.seal("SHARED", null, "second")), updatedAt: new Date().toISOString(), author: "other-host" });
  const r = await d.secrets!.refresh(d.deployer!);
  assert.equal(r.restarted.sort(), ["uses", "uses-proc"]);
  assert.is(await hashOf(d, "uses"), sha("second"));
  assert.is(await hashOf(d, "uses-proc"), sha("second"));
  const again = await d.secrets!.refresh(d.deployer!);
  assert.equal(again.restarted, [], "nothing changed: nothing restarts");
});

test.run();
