/**
 * runtime/ is web-standard: no node:* imports and no process, Bun or Deno globals. Only
 * adapters/ may touch them (CONTRIBUTING.md, Style).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";

const root = fileURLToPath(new URL("../runtime/", import.meta.url));
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}
const FORBIDDEN: [RegExp, string][] = [
  [/^\s*(import|export|\}).*from\s+["']node:/, "imports a node: module"],
  [/import\(\s*["']node:/, "imports a node: module"],
  [/(?<![\w./"'])process\.(?!exit\b|ts\b)\w/, "uses process"],
  [/(?<![\w.])process\.exit\b/, "uses process.exit"],
  [/(?<![\w.])Bun\./, "uses Bun.*"],
  [/(?<![\w.])Deno\./, "uses Deno.*"],
];

test("no file under runtime/ touches a runtime-specific API", () => {
  const offences: string[] = [];
  for (const f of files(root)) {
    const lines = readFileSync(f, "utf8").split("\n");
    lines.forEach((line, i) => {
      if (/^\s*(\/\/|\*|\/\*)/.test(line)) return; // comments may name them
      for (const [re, what] of FORBIDDEN) if (re.test(line)) offences.push(`${f.slice(root.length)}:${i + 1} ${what}: ${line.trim()}`);
    });
  }
  assert.equal(offences, [], offences.join("\n"));
});

test("the check itself catches an offending line", () => {
  assert.ok(FORBIDDEN.some(([re]) => re.test('import { readFile } from "node:fs";')));
  assert.ok(FORBIDDEN.some(([re]) => re.test("const x = process.env.HOME;")));
  assert.ok(FORBIDDEN.some(([re]) => re.test("Deno.serve(() => r)")));
});

test.run();
