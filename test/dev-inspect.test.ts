/**
 * `lanes dev --inspect` as a user runs it: the real CLI in its own process, a debugger client
 * connected to the inspector URL it prints (Chrome DevTools Protocol; WebKit's on bun), a
 * breakpoint set in the user's .ts file, a request paused there longer than the function's
 * timeoutMs, then resumed. The inspected instance runs on this host's runtime in both cases: an
 * isolate-lane function moved to one child, and a process-lane child in its sandbox.
 */
import { readFileSync, realpathSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { SourceMap } from "../runtime/sourcemap/map.ts";
import { makeDir, runCli, startDev, until, type Dev } from "./helpers/dev.ts";
import { adapter } from "./helpers/host.ts";
import { Inspector } from "./helpers/inspector.ts";

const fixture = fileURLToPath(new URL("./fixtures/dev/debug.ts", import.meta.url));
const BREAK_LINE =
  readFileSync(fixture, "utf8")
    .split("\n")
    .findIndex((l) => l.includes("// BREAK_LINE")) + 1;
const TIMEOUT_MS = 300;

const test = suite<{ dev: Dev; dir: string }>(`lanes dev --inspect on ${adapter.name}`);

test.before(async (ctx) => {
  ctx.dir = realpathSync(
    makeDir(
      {
        functions: {
          "debug-iso": { entry: "iso/debug.ts", lane: "isolate", timeoutMs: TIMEOUT_MS },
          "debug-proc": { entry: "proc/debug.ts", lane: "process", timeoutMs: TIMEOUT_MS },
        },
      },
      { "iso/debug.ts": "debug.ts", "proc/debug.ts": "debug.ts" },
    ),
  );
  ctx.dev = await startDev(ctx.dir, ["--inspect"]);
});

test.after(async ({ dev, dir }) => {
  await dev?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("--inspect prints each function's inspector URL and says timeouts are off while debugging", async ({ dev }) => {
  for (const name of ["debug-iso", "debug-proc"]) {
    await until(
      () => new RegExp(`debugger for ${name}: ws://127\\.0\\.0\\.1:\\d+/`).test(dev.output()),
      20_000,
      () => dev.output(),
    );
  }
  const out = dev.output();
  assert.match(out, /inspecting debug-iso: .*\n.*runs in the isolate lane otherwise: for this session it is a single process-lane child/);
  assert.match(out, /timeoutMs is off while you debug \(24 h instead of 300 ms\)/);
  assert.match(out, adapter.name === "bun" ? /open https:\/\/debug\.bun\.sh\/#127\.0\.0\.1:\d+\// : /open devtools:\/\/devtools\/bundled\/js_app\.html\?ws=127\.0\.0\.1:\d+\//);
  assert.not.match(out, /Debugger listening on|Bun Inspector/, "the runtime's own banner is replaced by lanes' lines");
});

for (const [name, lane] of [
  ["debug-iso", "isolate"],
  ["debug-proc", "process"],
] as const) {
  test(`a breakpoint on a line of the user's .ts file pauses a request there, and it answers after a pause past timeoutMs (${lane} lane)`, async ({ dev, dir }) => {
    const url = await until(
      () => new RegExp(`debugger for ${name}: (ws://\\S+)`).exec(dev.output())?.[1],
      20_000,
      () => dev.output(),
    );
    const source = join(dir, lane === "isolate" ? "iso" : "proc", "debug.ts");
    const inspector = await Inspector.connect(url);
    try {
      if (adapter.name === "bun") await inspector.send("Inspector.enable");
      await inspector.send("Debugger.enable");
      // WebKit's inspector starts with breakpoints off and waits for the client to say it is ready
      if (adapter.name === "bun") {
        await inspector.send("Debugger.setBreakpointsActive", { active: true });
        await inspector.send("Inspector.initialized");
      }
      // as DevTools does: the script names its source map; the map says where that .ts line went.
      // node and deno run the bundle, whose map names the .ts file; bun runs the .ts file itself,
      // with a map of its own transpiled code that names it relative to the working directory
      const mapOf = (p: Record<string, unknown>) => (typeof p.sourceMapURL === "string" ? SourceMap.fromInline(`//# sourceMappingURL=${p.sourceMapURL}`) : undefined);
      const nameIn = (p: Record<string, unknown>, m: SourceMap) =>
        m.sourceNames.includes(source) ? source : p.url === source && m.sourceNames.length === 1 ? m.sourceNames[0] : undefined;
      const breakable = (p: Record<string, unknown>) => {
        const m = mapOf(p);
        const name = m && nameIn(p, m);
        return name !== undefined && m!.generatedFor(name, BREAK_LINE) !== undefined;
      };
      const script = await inspector.event("Debugger.scriptParsed", breakable);
      const map = mapOf(script)!;
      const mapped = nameIn(script, map)!;
      const at = map.generatedFor(mapped, BREAK_LINE)!;
      const set = await inspector.send<{ locations: unknown[] }>("Debugger.setBreakpointByUrl", {
        urlRegex: `^${String(script.url).replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`,
        lineNumber: at.line - 1,
        columnNumber: at.column - 1,
      });
      assert.is(set.locations.length, 1, "the breakpoint resolved in the running bundle");

      const sent = Date.now();
      const answer = fetch(`${dev.url}/${name}?who=debugger`).then(async (r) => ({ status: r.status, text: await r.text(), at: Date.now() }));
      const paused = await inspector.event("Debugger.paused");
      const top = (paused.callFrames as { location: { lineNumber: number; columnNumber: number } }[])[0]!.location;
      const where = map.lookup(top.lineNumber + 1, top.columnNumber + 1);
      assert.equal([where?.source, where?.line], [mapped, BREAK_LINE], "paused on the line of the .ts file the breakpoint was set on");

      await new Promise((r) => setTimeout(r, 3 * TIMEOUT_MS));
      await inspector.send("Debugger.resume");
      const res = await answer;
      assert.equal([res.status, res.text], [200, "hello debugger from the process lane"], "answered once resumed, not cut off at timeoutMs");
      assert.ok(res.at - sent > 3 * TIMEOUT_MS, "it was paused for longer than timeoutMs");
    } finally {
      inspector.close();
    }
  });
}

test("--inspect NAME refuses a function the manifest does not have, naming those it has (exit 2)", async ({ dir }) => {
  const c = runCli(["dev", dir, "--port", "0", "--inspect", "nosuch"]);
  assert.is(await c.exited, 2, "a usage error");
  assert.match(c.output(), /--inspect nosuch: no such function in .*lanes\.json \(it has debug-iso, debug-proc\)/);
});

test.run();
