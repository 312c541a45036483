/**
 * `lanes` on Node runs a prebuilt bundle of the CLI's sources (bin/node-cli.mjs). A user who edits
 * a source file must get the edited CLI at the next start, and one whose bundle cannot be written
 * must still get a working CLI. Each test works on a copy of the package, never this checkout.
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { suite } from "uvu";
import * as assert from "uvu/assert";

const test = suite("node cli bundle");
const root = fileURLToPath(new URL("../", import.meta.url));
const HELP_LINE = "serverless functions in an isolate lane";

/**
 * A copy of what the CLI is built from, with this checkout's packages. `withTsx: false` leaves
 * tsx out, so a CLI that answers did not go through it.
 */
function copyOfPackage(withTsx = false): string {
  const dir = mkdtempSync(join(tmpdir(), "lanes-node-cli-"));
  for (const part of ["bin", "runtime", "adapters", "package.json"]) cpSync(join(root, part), join(dir, part), { recursive: true });
  cpSync(join(root, "loadtest"), join(dir, "loadtest"), { recursive: true, filter: (src) => !/\/(node_modules|bench-results|results)$/.test(src) });
  if (withTsx) symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  else {
    mkdirSync(join(dir, "node_modules"));
    for (const name of readdirSync(join(root, "node_modules"))) {
      if (name !== "tsx") symlinkSync(join(root, "node_modules", name), join(dir, "node_modules", name));
    }
  }
  return dir;
}

/** Run the copy's `lanes` from another folder, as a user runs it in their project. */
function lanes(dir: string, args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(dir, "bin", "lanes.mjs"), ...args], { cwd: tmpdir(), encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const builds = (dir: string): string[] => readdirSync(join(dir, ".lanes", "node-cli")).filter((f) => f.startsWith("lanes-"));

test("the first run builds the bundle from the sources and the next runs start from it, without tsx", () => {
  const dir = copyOfPackage();
  try {
    const first = lanes(dir, ["--help"]);
    assert.is(first.code, 0, first.out);
    assert.ok(first.out.includes(HELP_LINE), first.out);
    const record = JSON.parse(readFileSync(join(dir, ".lanes", "node-cli", "inputs.json"), "utf8")) as { bundle: string; inputs: [string, number, number][] };
    const files = record.inputs.map(([file]) => file);
    assert.ok(files.includes("runtime/cli/lanes.ts") && files.includes("adapters/node.ts"), files.join(" "));
    assert.ok(existsSync(join(dir, ".lanes", "node-cli", record.bundle)), record.bundle);
    const again = lanes(dir, ["--version"]);
    assert.is(again.code, 0, again.out);
    assert.match(again.out, /^lanes 0\.1\.0 \(node /);
    assert.equal(builds(dir), [record.bundle.split("/")[0]!], "no second build for unchanged sources");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a source file edited after a build is in the CLI the next run starts", () => {
  const dir = copyOfPackage();
  try {
    assert.is(lanes(dir, ["--help"]).code, 0);
    const usage = join(dir, "runtime", "cli", "usage.ts");
    const text = readFileSync(usage, "utf8");
    assert.ok(text.includes(HELP_LINE), "usage.ts holds the line this test edits");
    writeFileSync(usage, text.replace(HELP_LINE, "functions in lanes, edited by a test"));
    const edited = lanes(dir, ["--help"]);
    assert.is(edited.code, 0, edited.out);
    assert.ok(edited.out.includes("functions in lanes, edited by a test"), edited.out);
    assert.not.ok(edited.out.includes(HELP_LINE), edited.out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("where no bundle can be written, the CLI runs its sources through tsx and works the same", () => {
  const dir = copyOfPackage(true);
  try {
    // a file where the bundle's folder should be: nothing can be written there, even as root
    writeFileSync(join(dir, ".lanes"), "not a folder");
    // one run (through tsx, each costs 2-4 s of CPU): a command's flags parsed, its error and usage printed
    const invalid = lanes(dir, ["start", "--port", "nope"]);
    assert.is(invalid.code, 2, invalid.out);
    assert.match(invalid.out, /^lanes start: --port must be an integer from 0 to 65535 \(got "nope"\)\n\nusage: lanes start \[dir\] \[flags\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a crash of the CLI names the source file and line, not the bundle's", () => {
  const dir = copyOfPackage();
  try {
    const usage = join(dir, "runtime", "cli", "usage.ts");
    const lines = readFileSync(usage, "utf8").split("\n");
    const at = lines.findIndex((l) => l.startsWith("export function globalUsage("));
    assert.ok(at >= 0, "usage.ts has the function this test breaks");
    lines.splice(at + 1, 0, '  throw new Error("broken by a test");');
    writeFileSync(usage, lines.join("\n"));
    const r = lanes(dir, ["--help"]);
    assert.is(r.code, 1, r.out);
    assert.match(r.out, /Error: broken by a test/);
    // the thrown line: one below the function's first, counted from 1
    assert.ok(r.out.includes(`${usage}:${at + 2}:`), r.out);
    assert.not.ok(r.out.includes(join(".lanes", "node-cli")), r.out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bin/node-run.mjs runs another entry (the bench's direct baseline) from a bundle of its own, without tsx", async () => {
  const dir = copyOfPackage();
  const child = spawn(process.execPath, [join(dir, "bin", "node-run.mjs"), join(dir, "loadtest", "harness", "direct-host.ts"), join(dir, "loadtest"), "hello", "--port", "0"], {
    cwd: tmpdir(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  try {
    let out = "";
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "listening on" within 60 s:\n${out}`)), 60_000);
      const read = (d: Buffer) => {
        out += d;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (!m) return;
        clearTimeout(timer);
        resolve(m[1]!);
      };
      child.stdout.on("data", read);
      child.stderr.on("data", read);
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`exited ${code} before listening:\n${out}`));
      });
    });
    const res = await fetch(`${url}/hello`);
    assert.is(res.status, 200);
    assert.match(await res.text(), /hello/);
    const own = join(dir, ".lanes", "node-cli", "entries", "loadtest_harness_direct-host");
    const record = JSON.parse(readFileSync(join(own, "inputs.json"), "utf8")) as { bundle: string; inputs: [string, number, number][] };
    assert.ok(existsSync(join(own, record.bundle)), record.bundle);
    assert.ok(
      record.inputs.some(([file]) => file === "loadtest/harness/direct-host.ts"),
      "built from the entry's sources",
    );
    assert.not.ok(existsSync(join(dir, ".lanes", "node-cli", "inputs.json")), "the CLI's own bundle is not touched");
  } finally {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
  const usage = spawnSync(process.execPath, [join(root, "bin", "node-run.mjs")], { encoding: "utf8" });
  assert.is(usage.status, 2);
  assert.match(usage.stderr, /usage: node bin\/node-run\.mjs FILE/);
});

test.run();
