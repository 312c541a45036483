/**
 * Retention never takes a version's files from under requests still finishing on it: a deploy
 * that replaces a gradual deployment retires its new side, which no deployment uses any more, and
 * `--keep-versions 1` removes it from the store in the same turn; the requests it still runs read
 * the files their version was granted until they finish. And a function no later version changed
 * runs on in the folder of the version that started it, long after that version left the store.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { adapter } from "./helpers/host.ts";
import { api, deploy, get, scratchDir, startStoreHost, tokenFile, type StoreHost } from "./helpers/deploy.ts";

const test = suite<{ host: StoreHost }>(`retention and a retiring version on ${adapter.name}`);

/** A version whose process-lane `reader` answers its granted data/x.txt, after ?hold=K waits for a ?release=K. */
function readerDir(marker: string, other = marker): string {
  const dir = scratchDir("version-");
  mkdirSync(join(dir, "data"));
  writeFileSync(join(dir, "data", "x.txt"), `file of ${marker}`);
  writeFileSync(
    join(dir, "reader.ts"),
    `import { readFile } from "node:fs/promises";
export default {
  async fetch(request: Request, _env: unknown, ctx: { shared: { get(k: string): Promise<string | undefined>; set(k: string, v: string): Promise<void> } }) {
    const q = new URL(request.url).searchParams;
    const release = q.get("release");
    if (release) await ctx.shared.set("release", release);
    const hold = q.get("hold");
    if (hold) await ctx.shared.set("held", hold);
    if (q.get("peek")) return new Response((await ctx.shared.get("held")) ?? "");
    const end = Date.now() + 20_000;
    while (hold && (await ctx.shared.get("release")) !== hold && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    try {
      return new Response(${JSON.stringify(marker)} + ": " + (await readFile("data/x.txt", "utf8")));
    } catch (e) {
      return new Response(${JSON.stringify(marker)} + ": " + String(e), { status: 500 });
    }
  },
};
`,
  );
  writeFileSync(
    join(dir, "plain.ts"),
    `export default { async fetch() { await new Promise((r) => setTimeout(r, 300)); return new Response("plain in " + process.cwd().split("/").pop()); } };\n`,
  );
  writeFileSync(join(dir, "other.ts"), `export default { fetch: () => new Response(${JSON.stringify(other)}) };\n`);
  writeFileSync(
    join(dir, "lanes.json"),
    JSON.stringify({
      functions: {
        reader: { entry: "reader.ts", lane: "process", permissions: { read: ["data"] } },
        other: { entry: "other.ts", lane: "isolate" },
        plain: { entry: "plain.ts", lane: "process", sandbox: "off", instances: { max: 3 } },
      },
    }),
  );
  return dir;
}

test.before(async (ctx) => {
  ctx.host = await startStoreHost(readerDir("v1"), join(scratchDir("data-"), "store"), ["--admin-token-file", tokenFile(), "--keep-versions", "1"]);
});

test.after(async ({ host }) => {
  await host?.stop();
});

test("a request still running on the new side of a gradual deployment that a deploy replaced reads its version's files to the end", async ({ host }) => {
  const gradual = await deploy(host.url, readerDir("v2"), { percent: 50 });
  assert.is(gradual.status, 201, gradual.text);
  const pinned = get(host.url, "/reader?hold=a", { "lanes-version": "v2" });
  const end = Date.now() + 10_000;
  while ((await get(host.url, "/reader?peek=1", { "lanes-version": "v2" })).text !== "a" && Date.now() < end);
  const replaced = await deploy(host.url, readerDir("v3"));
  assert.is(replaced.status, 201, replaced.text);
  const released = await get(host.url, "/reader?release=a");
  assert.is(released.text, "v3: file of v3");
  const finished = await pinned;
  assert.equal([finished.status, finished.text], [200, "v2: file of v2"], "the request that began on v2 finished on v2, with its files");
});

test("a function unchanged since a version retention removed goes on running in that version's folder", async ({ host }) => {
  // reader is the same in v4, v5 and v6 (other changes), so v6 serves v4's instances
  for (const v of ["v4", "v5", "v6"]) assert.is((await deploy(host.url, readerDir("v4", v))).status, 201);
  const versions = (await api(host.url, "GET", "versions")).json.versions as { id: string }[];
  assert.equal(
    versions.map((v) => v.id),
    ["v6", "v5"],
    "v4 went",
  );
  assert.is((await get(host.url, "/other")).text, "v6");
  const answers = await Promise.all([1, 2, 3].map(() => get(host.url, "/reader")));
  for (const a of answers) assert.equal([a.status, a.text], [200, "v4: file of v4"]);
  // plain (no sandbox: it runs in its folder) is v1's: its instances, and new ones, run in v1's copy
  const plain = await Promise.all([1, 2, 3].map(() => get(host.url, "/plain")));
  for (const a of plain) assert.equal([a.status, a.text], [200, "plain in v1"], a.text);
});

test.run();
