/**
 * Retention on a folder store (`lanes start --data DIR --keep-versions N`): after each deploy the
 * versions past the newest N go, with their files, but never one a deployment uses (both sides
 * of a gradual one, the one `lanes rollback` goes back to); a rollback to one removed is a 404
 * naming it; a bad --keep-versions stops the start naming the flag and its rule.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { FolderStore } from "../runtime/deploy/folder-store.ts";
import { sha256Hex, type VersionRecord } from "../runtime/deploy/model.ts";
import { adapter } from "./helpers/host.ts";
import { api, deploy, get, runCli, runHostCli, scratchDir, startStoreHost, tokenFile, versionDir, type StoreHost } from "./helpers/deploy.ts";

const test = suite<{ host: StoreHost; data: string; tokens: string }>(`retention in a folder store on ${adapter.name}`);

test.before(async (ctx) => {
  ctx.data = join(scratchDir("data-"), "store");
  ctx.tokens = tokenFile();
  ctx.host = await startStoreHost(versionDir("v1"), ctx.data, ["--admin-token-file", ctx.tokens, "--keep-versions", "1", "--log", "json"]);
});

test.after(async ({ host }) => {
  await host?.stop();
});

const ids = async (url: string) => ((await api(url, "GET", "versions")).json.versions as { id: string }[]).map((v) => v.id);

/** The blobs the folder holds, and those its kept version records name. */
function blobsOf(data: string): { held: string[]; named: string[] } {
  const named = new Set<string>();
  for (const f of readdirSync(join(data, "versions"))) {
    for (const h of Object.values((JSON.parse(readFileSync(join(data, "versions", f), "utf8")) as VersionRecord).files)) named.add(h);
  }
  return { held: readdirSync(join(data, "blobs")).sort(), named: [...named].sort() };
}

test("past --keep-versions 1, a deploy removes the old versions and their files, but keeps both sides of a gradual deployment and the one rollback goes back to", async ({
  host,
  data,
  tokens,
}) => {
  const v1Blobs = blobsOf(data).held;
  for (const marker of ["v2", "v3"]) assert.is((await deploy(host.url, versionDir(marker))).status, 201);
  assert.equal(await ids(host.url), ["v3", "v2"], "v3, and v2 that rollback goes back to");
  const gradual = await deploy(host.url, versionDir("v4"), { percent: 30 });
  assert.is(gradual.status, 201, gradual.text);
  assert.equal(gradual.json.pruned, ["v2"]);
  assert.equal(await ids(host.url), ["v4", "v3"], "both sides of the gradual deployment");
  assert.is((await api(host.url, "GET", "versions")).json.keepVersions, 1);
  assert.is((await api(host.url, "POST", "promote", {})).status, 200);
  assert.is((await deploy(host.url, versionDir("v5"))).status, 201);
  assert.equal(await ids(host.url), ["v5", "v4"]);
  const listed = await runCli(["versions", "--to", host.url, "--token-file", tokens]);
  assert.is(listed.code, 0, listed.out);
  assert.match(listed.out, /^v5 +100% .*\nv4 +- /m);
  assert.not.match(listed.out, /^v3 /m);
  assert.match(listed.out, /kept: the newest 1 versions \(lanes start --keep-versions\), and those a deployment uses; the newest 100 deployments/);

  // the files of the removed versions are gone; every file a kept version names is there
  const { held, named } = blobsOf(data);
  assert.equal(held, named, "the folder holds exactly the blobs its versions name");
  assert.ok(
    v1Blobs.some((h) => !held.includes(h)),
    "v1's own bundles are gone",
  );
  assert.not.ok(existsSync(join(data, "versions", "v2.json")));

  // the kept ones roll back and serve
  const back = await api(host.url, "POST", "rollback", {});
  assert.equal([back.status, back.json.version], [200, "v4"], back.text);
  assert.is((await get(host.url, "/greet")).text, "v4");
  assert.is((await api(host.url, "POST", "rollback", { version: "v5" })).status, 200);
  assert.is((await get(host.url, "/greet-proc")).text, "v5");

  const gone = await api(host.url, "POST", "rollback", { version: "v2" });
  assert.is(gone.status, 404, gone.text);
  assert.match(gone.json.error!.message, /no version v2 in the store: it was never kept, or retention removed it, being older than the newest --keep-versions/);
  assert.is((await get(host.url, "/greet")).text, "v5", "still serving");
});

test("two deploys sent at once both land, and the version that stays is whole", async ({ host, data }) => {
  const [a, b] = await Promise.all([deploy(host.url, versionDir("v6")), deploy(host.url, versionDir("v7"))]);
  assert.equal([a.status, b.status], [201, 201], `${a.text} ${b.text}`);
  const { held, named } = blobsOf(data);
  for (const h of named) assert.ok(held.includes(h), `blob ${h} of a kept version is there`);
  assert.is((await get(host.url, "/greet")).text, b.json.version === "v7" ? "v7" : "v6");
});

test("a sweep keeps the blobs of an upload under way (written, its version not yet), and removes them once it is dropped", async () => {
  const store = await FolderStore.open(join(scratchDir("data-"), "store"), adapter.sys);
  try {
    const bytes = new TextEncoder().encode("an upload under way");
    const hash = await sha256Hex(bytes);
    await store.retention.hold("v9", [hash]);
    await store.putBlob(bytes);
    assert.is((await store.retention.sweep()).removed, 0);
    assert.equal(await store.getBlob(hash), bytes);
    await store.retention.release("v9");
    assert.equal(await store.retention.sweep(), { removed: 1, bytes: bytes.length });
    assert.not.ok(existsSync(join(store.location, "blobs", hash)));
  } finally {
    await store.close();
  }
});

test("--keep-versions that is not a whole number from 1 stops the start, naming the flag and its rule", async () => {
  for (const bad of ["0", "-1", "abc", "2.5", ""]) {
    const r = await runHostCli(["start", versionDir("x"), "--data", join(scratchDir("data-"), "store"), "--port", "0", "--keep-versions", bad]);
    assert.is(r.code, 2, r.out);
    assert.ok(r.out.includes(`--keep-versions must be a whole number of versions from 1 to 1000000`) && r.out.includes(`(got ${JSON.stringify(bad)})`), r.out);
  }
  const alone = await runHostCli(["start", versionDir("x"), "--port", "0", "--keep-versions", "3"]);
  assert.is(alone.code, 2, alone.out);
  assert.match(alone.out, /--keep-versions says how many versions the deploy store keeps: give --data DIR or --store etcd:\/\/\.\.\. too/);
});

test.run();
