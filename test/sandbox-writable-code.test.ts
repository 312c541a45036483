/**
 * A sandboxed function whose write grant holds another function's code: it rewrites that code,
 * and the next start runs it wherever that function runs (an isolate: in the host's process,
 * where it reads what no sandbox shows, lanes.json for one). Tried for real against `lanes
 * start`, restarted after the write; lanes refuses such an entry at the manifest check, and a
 * function importing such a file cannot start, naming the grant. Needs bubblewrap.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startCli } from "./helpers/cli.ts";
import { makeFunctionsDir } from "./helpers/host.ts";

// the sandboxed writer: writes ?c= to ?p= in its folder
const WRITER = `import * as fs from "node:fs";
export default { async fetch(req) {
  const q = new URL(req.url).searchParams;
  try { fs.writeFileSync(process.cwd() + "/" + q.get("p"), q.get("c")); return new Response("wrote"); }
  catch (e) { return new Response(String(e), { status: 500 }); }
} };
`;
// what it writes: code that, in the host's process, reads lanes.json (the sandbox never shows it)
const payload = (dir: string) => `import * as fs from "node:fs";
export default { fetch: () => new Response("in the host: " + fs.readFileSync(${JSON.stringify(join(dir, "lanes.json"))}, "utf8")) };
`;
const writer = { entry: "writer.js", lane: "process", runtime: "node", sandbox: "required", permissions: { write: ["src"] } };

const dirs: string[] = [];
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Start a host on `dir` (from the folder, as an operator does), call `path`, stop it. */
async function serveOnce(dir: string, path: string, before?: (url: string) => Promise<void>): Promise<{ status: number; text: string } | Error> {
  const cli = await startCli(["start", dir, "--port", "0", "--no-access-log"], { timeoutMs: 60_000 }).catch((e: Error) => e);
  if (cli instanceof Error) return cli;
  try {
    if (before) await before(cli.url);
    const res = await fetch(`${cli.url}${path}`);
    return { status: res.status, text: await res.text() };
  } finally {
    cli.kill("SIGKILL");
    await cli.exited;
  }
}

test("a sandboxed function may not write the folder of an isolate function's entry: the manifest is refused", async () => {
  const dir = makeFunctionsDir({ writer }, { "writer.js": WRITER });
  dirs.push(dir);
  mkdirSync(join(dir, "src"));
  writeFileSync(join(dir, "src", "victim.js"), 'export default { fetch: () => new Response("victim") };');
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions: { writer, victim: { entry: "src/victim.js", lane: "isolate" } } }));
  const first = await serveOnce(dir, "/victim", async (url) => {
    await fetch(`${url}/writer?${new URLSearchParams({ p: "src/victim.js", c: payload(dir) })}`);
  });
  if (first instanceof Error) {
    assert.match(
      first.message,
      /functions\.victim\.entry: must not lie inside functions\.writer\.permissions\.write\.0 \("src"\): a function that may write there could change the code "victim" runs/,
    );
    return;
  }
  const again = await serveOnce(dir, "/victim");
  assert.unreachable(`the host took the manifest; after the writer rewrote src/victim.js and a restart, /victim says: ${JSON.stringify(again)}`);
});

const IMPORTED = [
  { grant: "src", file: "src/lib.js", from: "./src/lib.js" },
  // a dependency: bundled from node_modules, which lanes dev does not watch, and checked all the same
  { grant: "node_modules/victim-lib", file: "node_modules/victim-lib/index.js", from: "victim-lib" },
];
for (const c of IMPORTED) {
  test(`a function importing ${c.file}, which a sandboxed function may write, cannot start, naming the grant, before or after the write`, async () => {
    const w = { ...writer, permissions: { write: [c.grant] } };
    const dir = makeFunctionsDir({ writer: w, victim: { entry: "victim.js", lane: "isolate" } }, { "writer.js": WRITER, "victim.js": `export { default } from "${c.from}";` });
    dirs.push(dir);
    mkdirSync(join(dir, c.grant), { recursive: true });
    if (c.grant.startsWith("node_modules/")) writeFileSync(join(dir, c.grant, "package.json"), JSON.stringify({ name: "victim-lib", type: "module", main: "index.js" }));
    writeFileSync(join(dir, c.file), 'export default { fetch: () => new Response("victim") };');
    const first = await serveOnce(dir, "/victim", async (url) => {
      await fetch(`${url}/writer?${new URLSearchParams({ p: c.file, c: payload(dir) })}`);
    });
    if (first instanceof Error) throw first;
    assert.is(first.status, 503, first.text);
    const again = await serveOnce(dir, "/victim");
    if (again instanceof Error) throw again;
    assert.is(again.status, 503, `after the writer rewrote ${c.file} and a restart, /victim says: ${again.text}`);
    assert.ok(readFileSync(join(dir, c.file), "utf8").includes("in the host"), "the writer did write");
  });
}

test.run();
