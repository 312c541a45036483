/**
 * Would a Node startup snapshot start process-lane children faster? Builds the child guest
 * (runtime/guest/child-main.ts's parts, bundled as CommonJS) into a snapshot blob with
 * `node --build-snapshot`, then times, from spawn to the child's first frame on stdout (its
 * `ready`), a bare `node` that writes one byte, the guest started from its bundle, and the guest
 * restored from the blob. Last, it checks whether a restored child can `import()` a function's
 * ES module, as every child must.
 *   node --import tsx loadtest/snapshot-boot.ts [--runs 20]
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { loadAdapter } from "../adapters/mod.ts";
import { parseArgs, stringFlag } from "../runtime/cli/args.ts";

const adapter = await loadAdapter();
const args = parseArgs(adapter.argv(), { runs: "string" }, "snapshot-boot");
const runs = Number(stringFlag(args, "runs", "20"));
const node = adapter.runtimeBinary("node");
const heap = ["--max-old-space-size=128", "--no-warnings"]; // a blob only loads under the flags it was built with
const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "lanes-snapshot-"));

// child-main.ts runs at import; the snapshot needs its parts loaded and its body deferred
writeFileSync(
  join(dir, "parts.ts"),
  `export { childPipe, leaveStopSignalsToHost, schedule } from ${JSON.stringify(src("../adapters/guest.ts"))};
export { guestStreamEnd } from ${JSON.stringify(src("../runtime/channel/stream-end.ts"))};
export { startGuest } from ${JSON.stringify(src("../runtime/guest/guest.ts"))};
export { sharedOverIpc } from ${JSON.stringify(src("../runtime/guest/shared-client.ts"))};
`,
);
writeFileSync(
  join(dir, "entry.cjs"),
  `const m = require("./parts.ts");
function main() {
  let post;
  const end = m.guestStreamEnd(m.childPipe((text) => post?.(text)), m.schedule);
  post = (text) => end.send({ t: "log", level: "log", text: text.replace(/\\n$/, "") });
  m.leaveStopSignalsToHost();
  m.startGuest(end, (send) => m.sharedOverIpc(send));
}
const v8 = require("node:v8");
if (v8.startupSnapshot.isBuildingSnapshot()) v8.startupSnapshot.setDeserializeMainFunction(main);
else main();
`,
);
writeFileSync(join(dir, "fn.mjs"), 'export default { fetch: () => new Response("hello") };\n');
writeFileSync(
  join(dir, "import.cjs"),
  `const v8 = require("node:v8");
const main = () => import(${JSON.stringify(join(dir, "fn.mjs"))}).then(() => console.log("imported"), (e) => console.log(e.code));
if (v8.startupSnapshot.isBuildingSnapshot()) v8.startupSnapshot.setDeserializeMainFunction(main);
else main();
`,
);

try {
  await build({ entryPoints: [join(dir, "entry.cjs")], bundle: true, platform: "node", format: "cjs", outfile: join(dir, "guest.cjs"), logLevel: "warning" });
  const made = (entry: string, blob: string) => {
    const t0 = performance.now();
    const r = spawnSync(node, [...heap, "--snapshot-blob", join(dir, blob), "--build-snapshot", join(dir, entry)], { cwd: dir });
    if (r.status !== 0) throw new Error(`building ${blob}: ${r.stderr}`);
    return performance.now() - t0;
  };
  const buildMs = made("guest.cjs", "guest.blob");
  made("import.cjs", "import.blob");

  /** Spawn to the first byte on stdout, with an empty environment (as the sandbox gives). */
  const firstByte = (argv: string[]) =>
    new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      const child = spawn(node, [...heap, ...argv], { stdio: ["pipe", "pipe", "ignore"], env: {} });
      child.once("error", reject);
      child.stdout.once("data", () => {
        resolve(performance.now() - t0);
        child.kill("SIGKILL");
      });
    });
  const cases: [string, string[]][] = [
    ["bare node, one byte", ["-e", "process.stdout.write('x')"]],
    ["guest from its bundle", [join(dir, "guest.cjs")]],
    ["guest from the snapshot", ["--snapshot-blob", join(dir, "guest.blob")]],
  ];
  console.log(`Node ${spawnSync(node, ["--version"]).stdout.toString().trim()}, ${runs} runs each, spawn to first frame; building the blob took ${Math.round(buildMs)} ms\n`);
  console.log("| start | p50 ms | min ms |\n|---|---:|---:|");
  for (const [name, argv] of cases) {
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) ms.push(await firstByte(argv));
    ms.sort((a, b) => a - b);
    console.log(`| ${name} | ${ms[runs >> 1]!.toFixed(1)} | ${ms[0]!.toFixed(1)} |`);
  }
  const restored = spawnSync(node, [...heap, "--snapshot-blob", join(dir, "import.blob")], { env: {} })
    .stdout.toString()
    .trim();
  console.log(`\nimport() of an ES module in a restored child: ${restored}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
adapter.exit(0);
