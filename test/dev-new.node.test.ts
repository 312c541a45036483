/**
 * `lanes new`: the new entry follows the manifest's own layout and the rest of the file stays
 * byte for byte. Nothing here depends on the host runtime, so it runs on Node only.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { loadAdapter } from "../adapters/mod.ts";
import { newCommand } from "../runtime/cli/new.ts";
import { LanesError } from "../runtime/errors.ts";
import { addFunction } from "../runtime/cli/new-manifest.ts";
import { loadManifest } from "../runtime/manifest/load.ts";

const spec = { entry: "x.ts", route: "/x", lane: "isolate" };
const test = suite("lanes new");

test("one-line entries get a one-line entry with the same spacing", () => {
  const before = '{\n  "functions": {\n    "a": { "entry": "a.ts", "lane": "process" }\n  }\n}\n';
  assert.is(
    addFunction(before, "x", spec),
    '{\n  "functions": {\n    "a": { "entry": "a.ts", "lane": "process" },\n    "x": { "entry": "x.ts", "route": "/x", "lane": "isolate" }\n  }\n}\n',
  );
});

test("multi-line, tab-indented entries get a multi-line entry indented with tabs", () => {
  const before = '{\n\t"functions": {\n\t\t"a": {\n\t\t\t"entry": "a.ts"\n\t\t}\n\t}\n}\n';
  assert.is(
    addFunction(before, "x", spec),
    '{\n\t"functions": {\n\t\t"a": {\n\t\t\t"entry": "a.ts"\n\t\t},\n\t\t"x": {\n\t\t\t"entry": "x.ts",\n\t\t\t"route": "/x",\n\t\t\t"lane": "isolate"\n\t\t}\n\t}\n}\n',
  );
});

test("a compact one-line manifest stays compact, and braces inside strings do not confuse it", () => {
  const before = '{"functions":{"a":{"entry":"a.ts","env":{"K":"}{\\" \\"functions\\": {"}}}}';
  assert.is(addFunction(before, "x", spec), `${before.slice(0, -2)},"x":{"entry":"x.ts","route":"/x","lane":"isolate"}}}`);
});

test("an empty functions object gets the entry one indent deeper", () => {
  const before = '{\n    "$schema": "s.json",\n    "functions": {}\n}\n';
  assert.is(addFunction(before, "x", spec), '{\n    "$schema": "s.json",\n    "functions": {\n        "x": { "entry": "x.ts", "route": "/x", "lane": "isolate" }\n    }\n}\n');
});

test("lanes new in a folder without a manifest writes both files, and the manifest is valid", async () => {
  const adapter = await loadAdapter();
  const dir = mkdtempSync(join(tmpdir(), "lanes-new-"));
  const out: string[] = [];
  try {
    const code = await newCommand({ ...adapter, writeOut: (t) => void out.push(t) }, ["hello-there", "--lane", "process", dir]);
    assert.is(code, 0);
    assert.match(out.join(""), /created .*hello-there\.ts/);
    const m = await loadManifest(dir, adapter.sys, adapter.name);
    assert.equal(
      m.functions.map((f) => [f.name, f.lane, f.route]),
      [["hello-there", "process", "/hello-there"]],
    );
    assert.match(readFileSync(join(dir, "hello-there.ts"), "utf8"), /export default \{\n {2}async fetch\(/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("lanes new refuses a taken route (a trailing slash aside), an invalid name, an unknown lane and a manifest that is not JSON, and says why", async () => {
  const adapter = await loadAdapter();
  const dir = mkdtempSync(join(tmpdir(), "lanes-new-"));
  const quiet = { ...adapter, writeOut: () => {} };
  try {
    writeFileSync(join(dir, "lanes.json"), '{ "functions": { "a": { "entry": "a.ts", "route": "/b" } } }');
    const refusal = async (argv: string[]) => {
      try {
        await newCommand(quiet, argv);
      } catch (e) {
        return (e as Error).message;
      }
      return "accepted";
    };
    assert.match(await refusal(["b", dir]), /route \/b is already served by function "a"/);
    writeFileSync(join(dir, "lanes.json"), '{ "functions": { "a": { "entry": "a.ts", "route": "/b/" } } }');
    // the manifest's check sees "/b/" and "/b" as one route, and so must lanes new
    assert.match(await refusal(["b", dir]), /route \/b is already served by function "a"/);
    assert.match(await refusal(["no way", dir]), /"no way" is not a valid function name: a name may only hold letters, digits, _ and -/);
    assert.match(await refusal(["c", "--lane", "thread", dir]), /--lane must be "isolate" or "process" \(got "thread"\)/);
    writeFileSync(join(dir, "lanes.json"), '{ "functions": { ');
    assert.match(await refusal(["c", dir]), /is not valid JSON; fix it first/);
    // a byte order mark, which lanes validate, dev and start read past, is not bad JSON here either
    writeFileSync(join(dir, "lanes.json"), '\ufeff{ "functions": { "a": { "entry": "a.ts" } } }');
    assert.is(await refusal(["c", dir]), "accepted");
    assert.equal(Object.keys((JSON.parse(readFileSync(join(dir, "lanes.json"), "utf8")) as { functions: object }).functions), ["a", "c"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("lanes new into a path that is a file, or a folder whose lanes.json is a folder, says so without a stack trace", async () => {
  const adapter = await loadAdapter();
  const dir = mkdtempSync(join(tmpdir(), "lanes-new-"));
  const quiet = { ...adapter, writeOut: () => {} };
  const refusal = async (argv: string[]) => {
    try {
      await newCommand(quiet, argv);
    } catch (e) {
      return e instanceof LanesError ? e.message : `not a LanesError: ${(e as Error).stack}`;
    }
    return "accepted";
  };
  try {
    writeFileSync(join(dir, "file"), "x");
    // mkdir failed: EEXIST with a stack trace
    assert.match(await refusal(["greet", join(dir, "file")]), /^lanes new: .*\/file is not a folder: give the folder of the functions/);
    assert.match(await refusal(["greet", join(dir, "file", "sub")]), /^lanes new: cannot make the folder .*\/file\/sub \(ENOTDIR/);
    mkdirSync(join(dir, "odd", "lanes.json"), { recursive: true });
    assert.match(await refusal(["greet", join(dir, "odd")]), /^lanes new: .*\/odd\/lanes\.json is not a file$/);
    assert.not.ok(existsSync(join(dir, "odd", "greet.ts")), "nothing written");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
