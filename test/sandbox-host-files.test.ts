/**
 * A folder taken as a new store's version 1 that grants the host's own files: the secrets key
 * or the admin token file lying in the folder was copied into the version and read by the
 * sandboxed function (README, "What a function can reach": neither is mounted). Tried for real
 * against `lanes start --data`; the host refuses the manifest, naming the grant and the flag.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startCli } from "./helpers/cli.ts";
import { makeFunctionsDir } from "./helpers/host.ts";

// a function that reads the file it was granted
const READER = `import * as fs from "node:fs";
export default { fetch(req) {
  try { return new Response(fs.readFileSync(process.cwd() + "/" + new URL(req.url).searchParams.get("p"), "utf8")); }
  catch (e) { return new Response(String(e), { status: 500 }); }
} };
`;

const dirs: string[] = [];
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const cases = [
  { flag: "--secrets-key-file", name: "secrets.key", text: `${randomBytes(32).toString("hex")}\n` },
  { flag: "--admin-token-file", name: "admin.token", text: `ops ${randomBytes(24).toString("hex")}\n` },
];
for (const c of cases) {
  test(`a sandboxed function granted the host's ${c.flag} in its folder cannot read it: lanes start --data refuses the manifest`, async () => {
    const dir = makeFunctionsDir(
      { reader: { entry: "reader.js", lane: "process", runtime: "node", sandbox: "required", permissions: { read: [c.name] } } },
      { "reader.js": READER },
    );
    dirs.push(dir);
    writeFileSync(join(dir, c.name), c.text);
    chmodSync(join(dir, c.name), 0o600);
    mkdirSync(join(dir, "store"));
    const args = ["start", dir, "--data", join(dir, "store"), c.flag, join(dir, c.name), "--port", "0", "--no-access-log"];
    const started = await startCli(args, { timeoutMs: 60_000 }).catch((e: Error) => e);
    if (started instanceof Error) {
      assert.match(
        started.message,
        new RegExp(`functions\\.reader\\.permissions\\.read\\.0: grants this host's ${c.flag} .*${c.name.replace(".", "\\.")}, which no function may see`),
      );
      return;
    }
    try {
      const seen = await (await fetch(`${started.url}/reader?p=${c.name}`)).text();
      assert.unreachable(`the host took the manifest, and the function read its ${c.flag}: ${seen === c.text ? "the very file" : seen}`);
    } finally {
      started.kill("SIGKILL");
    }
  });
}

test.run();
