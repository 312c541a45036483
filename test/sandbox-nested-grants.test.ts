/**
 * A grant inside another function's write grant: the writer swaps the granted folder for a link
 * to `/`, the reader's next child is bound to the host's whole file system. The escape is tried
 * for real against a `lanes start` host; lanes refuses the manifest, naming both fields. Needs
 * bubblewrap ("sandbox": "required").
 */
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startCli } from "./helpers/cli.ts";
import { makeFunctionsDir } from "./helpers/host.ts";

// what an untrusted author puts in a function: swap a path for a link to `/`, exit, list a folder
const ATTACKER = `import * as fs from "node:fs";
export default { fetch(req) {
  const q = new URL(req.url).searchParams;
  const at = (p) => process.cwd() + "/" + p;
  try {
    if (q.has("swap")) { fs.renameSync(at(q.get("swap")), at(q.get("swap")) + ".old"); fs.symlinkSync("/", at(q.get("swap"))); return new Response("swapped"); }
    if (q.has("exit")) { setTimeout(() => process.exit(1), 10); return new Response("exiting"); }
    return new Response(fs.readdirSync(at(q.get("ls"))).join(" "));
  } catch (e) { return new Response(String(e), { status: 500 }); }
} };
`;

let dir = "";
const dirs: string[] = [];
test.after(() => {
  for (const d of [dir, ...dirs]) if (d) rmSync(d, { recursive: true, force: true });
});

test("a function that may write shared/ cannot hand another, granted shared/x, the host's file system: the manifest is refused", async () => {
  const fn = (permissions: Record<string, unknown>) => ({ entry: "attacker.js", lane: "process", runtime: "node", sandbox: "required", permissions });
  dir = makeFunctionsDir({ writer: fn({ write: ["shared"] }), reader: fn({ read: ["shared/x"] }) }, { "attacker.js": ATTACKER });
  mkdirSync(join(dir, "shared", "x"), { recursive: true });
  const started = await startCli(["start", dir, "--port", "0", "--no-access-log"], { timeoutMs: 60_000 }).catch((e: Error) => e);
  if (started instanceof Error) {
    assert.match(
      started.message,
      /functions\.reader\.permissions\.read\.0: must not lie inside functions\.writer\.permissions\.write\.0 \("shared"\): a function that may write there could replace it with a link out of the manifest's folder.*\(got "shared\/x"\)/,
    );
    return;
  }
  // the host took the manifest: play the escape through, and say what the reader got
  try {
    assert.is(await (await fetch(`${started.url}/writer?swap=shared/x`)).text(), "swapped");
    await fetch(`${started.url}/reader?exit`);
    let seen = "";
    for (let i = 0; i < 100 && !/\betc\b/.test(seen); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const res = await fetch(`${started.url}/reader?ls=shared/x`);
      seen = await res.text();
    }
    assert.unreachable(`the host took the manifest, and after the writer's swap the reader's shared/x lists: ${seen}`);
  } finally {
    started.kill("SIGKILL");
  }
});

// The operator's own links: data/ is the writer's, and data/cfg -> ../config is a link the
// operator made there; the reader's grant leads through it (cfg -> data/cfg). Its real path,
// config/, lies outside data/, but the link the sandbox follows at each start is the writer's.
for (const field of ["read", "write"] as const) {
  test(`a grant (${field}) that reaches its folder through a link inside another function's write grant is refused: the writer could point that link at /`, async () => {
    const fn = (permissions: Record<string, unknown>) => ({ entry: "attacker.js", lane: "process", runtime: "node", sandbox: "required", permissions });
    const d = makeFunctionsDir({ writer: fn({ write: ["data"] }), reader: fn({ [field]: ["cfg"] }) }, { "attacker.js": ATTACKER });
    dirs.push(d);
    mkdirSync(join(d, "data"));
    mkdirSync(join(d, "config"));
    writeFileSync(join(d, "config", "settings"), "x");
    symlinkSync("../config", join(d, "data", "cfg"));
    symlinkSync("data/cfg", join(d, "cfg"));
    const started = await startCli(["start", d, "--port", "0", "--no-access-log"], { timeoutMs: 60_000 }).catch((e: Error) => e);
    if (started instanceof Error) {
      assert.match(
        started.message,
        new RegExp(
          `functions\\.reader\\.permissions\\.${field}\\.0: must not reach its folder through data/cfg, a link inside functions\\.writer\\.permissions\\.write\\.0 \\("data"\\)`,
        ),
      );
      return;
    }
    try {
      assert.is(await (await fetch(`${started.url}/reader?ls=cfg`)).text(), "settings");
      assert.is(await (await fetch(`${started.url}/writer?swap=data/cfg`)).text(), "swapped");
      // every instance the reader has (the load check's may still run beside the first) exits, and
      // the next ones start with the link as the writer left it
      let seen = "";
      for (let i = 0; i < 50 && !/\betc\b/.test(seen); i++) {
        await fetch(`${started.url}/reader?exit`);
        await new Promise((r) => setTimeout(r, 100));
        seen = await (await fetch(`${started.url}/reader?ls=cfg`)).text();
      }
      assert.unreachable(`the host took the manifest, and after the writer's swap the reader's cfg (${field}) lists: ${seen}`);
    } finally {
      started.kill("SIGKILL");
    }
  });
}

test.run();
