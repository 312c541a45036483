/**
 * The compile cache cannot be planted: it lives in a folder private to the user (created 0700,
 * refused when someone else can write to it or owns it), and a file found there under the
 * expected name is run only if it is exactly what the build produced.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compile } from "../runtime/compile.ts";
import { startHost } from "../runtime/host/host.ts";
import { createLogger } from "../runtime/log.ts";
import { cliCommand } from "./helpers/cli.ts";
import { adapter, makeFunctionsDir } from "./helpers/host.ts";
import { spawnProcess } from "./helpers/spawn.ts";
import { hostEnvironment } from "../adapters/env.ts";

const scratch = mkdtempSync(join(tmpdir(), "lanes-cache-test-"));
const original = process.env.LANES_CACHE_DIR;
const useCache = (dir: string) => (process.env.LANES_CACHE_DIR = dir);

test.after(() => {
  if (original === undefined) delete process.env.LANES_CACHE_DIR;
  else process.env.LANES_CACHE_DIR = original;
  rmSync(scratch, { recursive: true, force: true });
});

test("by default the cache is in the user's home, not in a folder every user shares", () => {
  delete process.env.LANES_CACHE_DIR;
  const dir = adapter.sys.cacheDir();
  assert.ok(dir.startsWith(process.env.HOME || homedir()), dir);
  assert.not.ok(dir.startsWith(tmpdir()), dir);
});

test("a missing cache folder is created private to the user (0700)", async () => {
  const dir = join(scratch, "fresh", "cache");
  await adapter.sys.ensurePrivateDir(dir);
  assert.is(statSync(dir).mode & 0o777, 0o700);
});

test("a bundle planted under the name the build will use is replaced, never run", async () => {
  const cache = join(scratch, "planted");
  useCache(cache);
  const dir = makeFunctionsDir({
    iso: { entry: "echo.ts", lane: "isolate" },
    proc: { entry: "echo.ts", lane: "process" },
  });
  const marker = join(scratch, "planted-code-ran");
  try {
    // the names the host will look for: a build of the same files gives them
    const names = await Promise.all(["iso", "proc"].map(async (n) => (await compile(join(dir, "echo.ts"), adapter.sys, n)).file));
    const genuine = names.map((f) => readFileSync(f, "utf8"));
    const planted = `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(marker)}, "ran");\nexport default { fetch: () => new Response("planted") };\n`;
    for (const f of names) writeFileSync(f, planted);
    const h = await startHost({ dir, port: 0, hostname: "127.0.0.1", dev: false, adapter, log: createLogger(() => {}) });
    try {
      for (const name of ["iso", "proc"]) {
        const res = await fetch(`${h.url}/${name}`, { method: "POST", body: "genuine" });
        assert.is(await res.text(), "genuine", `${name} ran the planted file`);
      }
    } finally {
      await h.stop(2000);
    }
    assert.not.ok(existsSync(marker), "the planted code ran");
    names.forEach((f, i) => {
      assert.is(readFileSync(f, "utf8"), genuine[i], "the planted file was replaced by the build");
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a cache folder others can write to, owned by someone else, or a symlink is refused with the reason", async () => {
  const cases: [string, (dir: string) => void, RegExp][] = [
    ["world", (d) => chmodSync(d, 0o777), /can be written by everyone \(mode 777\)/],
    ["group", (d) => chmodSync(d, 0o770), /can be written by its group \(mode 770\)/],
    ["owner", (d) => chownSync(d, 65534, 65534), /is owned by uid 65534, not by this user/],
    [
      "link",
      (d) => {
        rmSync(d, { recursive: true });
        symlinkSync(join(scratch, "fresh"), d);
      },
      /is a symbolic link/,
    ],
  ];
  for (const [name, spoil, why] of cases) {
    const dir = join(scratch, `spoilt-${name}`);
    mkdirSync(dir, { mode: 0o700 });
    spoil(dir);
    useCache(dir);
    const fns = makeFunctionsDir({ a: { entry: "echo.ts" } });
    const err = await compile(join(fns, "echo.ts"), adapter.sys, "a").then(
      () => undefined,
      (e: { code?: string; message: string }) => e,
    );
    rmSync(fns, { recursive: true, force: true });
    assert.ok(err, `${name}: the cache was used`);
    assert.is(err!.code, "unsafe_cache");
    assert.match(err!.message, why);
    assert.match(err!.message, /LANES_CACHE_DIR/, "it says what to do");
  }
});

test("lanes start refuses an unsafe LANES_CACHE_DIR: exit 1 and the reason", async () => {
  const dir = join(scratch, "cli-world");
  mkdirSync(dir, { mode: 0o700 });
  chmodSync(dir, 0o777);
  const fns = makeFunctionsDir({ a: { entry: "echo.ts" } });
  const [cmd, args] = cliCommand(["start", fns, "--port", "0"]);
  const child = spawnProcess(cmd, args, { ...hostEnvironment(adapter.name), LANES_CACHE_DIR: dir });
  let out = "";
  child.onOutput((t) => (out += t));
  assert.equal(await child.exited, { code: 1, signal: null }, out);
  assert.match(out, new RegExp(`compile cache ${dir}: can be written by everyone`));
  assert.not.match(out, /listening on/);
  rmSync(fns, { recursive: true, force: true });
});

test.run();
