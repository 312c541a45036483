/**
 * The manifest's `sandbox` and `permissions`: each mistake names the field and the rule, granted
 * paths stay inside the manifest's folder (never the folder itself nor lanes.json), and what a
 * function gets is resolved as documented.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadManifest } from "../runtime/manifest/load.ts";
import { adapter } from "./helpers/host.ts";

const dirs: string[] = [];
function folder(manifest: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "lanes-manifest-sandbox-"));
  dirs.push(dir);
  writeFileSync(join(dir, "a.ts"), "export default { fetch: () => new Response('a') }");
  mkdirSync(join(dir, "data"));
  mkdirSync(join(dir, "out"));
  writeFileSync(join(dir, "lanes.json"), JSON.stringify(manifest));
  return dir;
}
async function problems(manifest: unknown): Promise<string> {
  try {
    await loadManifest(folder(manifest), adapter.sys, adapter.name);
  } catch (e) {
    assert.is((e as { code?: string }).code, "invalid_manifest");
    return (e as Error).message;
  }
  throw new Error("the manifest was accepted");
}
const proc = (extra: Record<string, unknown>) => ({ functions: { f: { entry: "a.ts", lane: "process", ...extra } } });

test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("a wrong sandbox mode is refused at the top level and per function, naming the modes", async () => {
  const msg = await problems({ sandbox: "maybe", functions: { f: { entry: "a.ts", sandbox: "yes" } } });
  assert.match(msg, /^\s+sandbox: must be "auto", "required" or "off" \(got "maybe"\)$/m);
  assert.match(msg, /functions\.f\.sandbox: must be "auto", "required" or "off" \(got "yes"\)/);
});

test("permissions.net must be false, true or a list of host:port with real ports", async () => {
  assert.match(await problems(proc({ permissions: { net: "yes" } })), /functions\.f\.permissions\.net: must be false, true or a non-empty list of "host:port"/);
  assert.match(
    await problems(proc({ permissions: { net: ["localhost"] } })),
    /functions\.f\.permissions\.net: must be false, true or a non-empty list of "host:port" \(got \["localhost"\]\)/,
  );
  assert.match(
    await problems(proc({ permissions: { net: ["127.0.0.1:70000"] } })),
    /functions\.f\.permissions\.net\.0: the port must be from 1 to 65535 \(got "127\.0\.0\.1:70000"\)/,
  );
  assert.match(await problems(proc({ permissions: { nett: true } })), /functions\.f\.permissions\.nett: unknown field \(did you mean "net"\?\)/);
});

test("granted paths must lie inside the manifest's folder, exist, and never be the folder itself or lanes.json", async () => {
  const cases: [unknown, RegExp][] = [
    [{ read: ["../elsewhere"] }, /functions\.f\.permissions\.read\.0: must be a path inside the manifest's folder .*\(got "\.\.\/elsewhere"\)/],
    [{ read: ["."] }, /functions\.f\.permissions\.read\.0: must be a path inside the manifest's folder .*not the folder itself/],
    [{ write: ["/etc"] }, /functions\.f\.permissions\.write\.0: must be a path inside the manifest's folder/],
    [{ read: ["lanes.json"] }, /functions\.f\.permissions\.read\.0: must not grant lanes\.json: it holds every function's env/],
    [{ write: ["data", "nope"] }, /functions\.f\.permissions\.write\.1: not found: .*nope/],
    [{ read: ["a,b"] }, /functions\.f\.permissions\.read\.0: must not contain a comma/],
  ];
  for (const [permissions, re] of cases) assert.match(await problems(proc({ permissions })), re);
});

/** Load a manifest written into `dir`; `refused` gives the error's message (or says it was accepted). */
function manifestsIn(dir: string) {
  const load = (manifest: unknown) => {
    writeFileSync(join(dir, "lanes.json"), JSON.stringify(manifest));
    return loadManifest(dir, adapter.sys, adapter.name);
  };
  const refused = (manifest: unknown): Promise<string> =>
    load(manifest).then(
      () => `accepted: ${JSON.stringify(manifest)}`,
      (e: Error) => e.message,
    );
  return { load, refused };
}

test("no grant may lie inside a write grant, its own function's or another's, by its path or where its link leads; side by side or a write inside a read is fine", async () => {
  const dir = folder({});
  mkdirSync(join(dir, "out", "sub"));
  symlinkSync("out/sub", join(dir, "via"));
  const { load, refused } = manifestsIn(dir);
  const two = (f: unknown, g: unknown) => ({
    functions: { f: { entry: "a.ts", lane: "process", permissions: f }, g: { entry: "a.ts", lane: "process", route: "/g", permissions: g } },
  });
  const rule = /: a function that may write there could replace it with a link out of the manifest's folder, which the sandbox would follow/;
  const cases: [unknown, string][] = [
    [proc({ permissions: { write: ["out"], read: ["out/sub"] } }), 'functions.f.permissions.read.0: must not lie inside functions.f.permissions.write.0 ("out")'],
    [proc({ permissions: { write: ["out", "out/sub"] } }), 'functions.f.permissions.write.1: must not lie inside functions.f.permissions.write.0 ("out")'],
    [two({ write: ["out"] }, { read: ["out/sub"] }), 'functions.g.permissions.read.0: must not lie inside functions.f.permissions.write.0 ("out")'],
    [two({ write: ["out"] }, { read: ["via"] }), 'functions.g.permissions.read.0: must not lie inside functions.f.permissions.write.0 ("out")'],
  ];
  for (const [manifest, want] of cases) {
    const msg = await refused(manifest);
    assert.ok(msg.includes(want), msg);
    assert.match(msg, rule);
  }
  // what no function can swap
  await load(two({ write: ["out"] }, { read: ["data"] }));
  await load(two({ write: ["out"] }, { write: ["out"] }));
  await load(proc({ permissions: { read: ["out"], write: ["out/sub"] } }));
});

test("no grant and no entry may be reached through a link inside a write grant, even one the operator made; the link's target granted itself is fine", async () => {
  const dir = folder({});
  mkdirSync(join(dir, "config"));
  mkdirSync(join(dir, "src"));
  writeFileSync(join(dir, "src", "b.ts"), "export default { fetch: () => new Response('b') }");
  symlinkSync("../config", join(dir, "out", "cfg"));
  symlinkSync("out/cfg", join(dir, "cfg"));
  symlinkSync("../src", join(dir, "out", "code"));
  symlinkSync("out/code", join(dir, "code"));
  const { load, refused } = manifestsIn(dir);
  const two = (g: Record<string, unknown>) => ({
    functions: { f: { entry: "a.ts", lane: "process", permissions: { write: ["out"] } }, g: { entry: "a.ts", lane: "process", route: "/g", ...g } },
  });
  const cases: [unknown, string][] = [
    [two({ permissions: { read: ["cfg"] } }), 'functions.g.permissions.read.0: must not reach its folder through out/cfg, a link inside functions.f.permissions.write.0 ("out")'],
    [two({ permissions: { write: ["cfg"] } }), 'functions.g.permissions.write.0: must not reach its folder through out/cfg, a link inside functions.f.permissions.write.0 ("out")'],
    [
      proc({ permissions: { write: ["out"], read: ["cfg"] } }),
      'functions.f.permissions.read.0: must not reach its folder through out/cfg, a link inside functions.f.permissions.write.0 ("out")',
    ],
    [two({ entry: "code/b.ts" }), 'functions.g.entry: must not reach its file through out/code, a link inside functions.f.permissions.write.0 ("out")'],
  ];
  for (const [manifest, want] of cases) {
    const msg = await refused(manifest);
    assert.ok(msg.includes(want), msg);
    assert.match(msg, /could point the link (out of the manifest's folder|at code of its own)/);
  }
  // the same folders, granted and loaded by their own names
  await load(two({ permissions: { read: ["config"] } }));
  await load(two({ entry: "src/b.ts" }));
});

test('"required" in the isolate lane is an error; permissions there are a warning that they do not hold', async () => {
  assert.match(await problems({ functions: { f: { entry: "a.ts", sandbox: "required" } } }), /functions\.f\.sandbox: "required" needs "lane": "process"/);
  const m = await loadManifest(folder({ functions: { f: { entry: "a.ts", permissions: { read: ["data"] } } } }), adapter.sys, adapter.name);
  assert.match(m.warnings.join("\n"), /functions\.f\.permissions: not enforced in the isolate lane .*set "lane": "process" to enforce them/);
});

test("a function gets the manifest's sandbox mode unless it sets its own, and its grants as absolute paths", async () => {
  const dir = folder({
    sandbox: "required",
    functions: {
      a: { entry: "a.ts", lane: "process", permissions: { net: ["db.internal:5432"], read: ["data"], write: ["out"] } },
      b: { entry: "a.ts", lane: "process", route: "/b", sandbox: "off" },
    },
  });
  const m = await loadManifest(dir, adapter.sys, adapter.name);
  const [a, b] = m.functions;
  assert.is(a!.sandbox, "required");
  assert.equal(a!.permissions, { net: ["db.internal:5432"], read: [join(dir, "data")], write: [join(dir, "out")] });
  assert.is(b!.sandbox, "off");
  assert.equal(b!.permissions, { net: false, read: [], write: [] }, "nothing by default");
});

test.run();
