/**
 * A user's own folder, outside the repo, with its own lanes.json, functions and node_modules,
 * served by the real CLI (what `npm run lanes -- start DIR --port P` runs).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startCli, type RunningCli } from "./helpers/cli.ts";

let dir: string;
let cli: RunningCli;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), "lanes-user-"));
  const pkg = join(dir, "node_modules", "greeter");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "greeter", type: "module", main: "index.js" }));
  // biome-ignore lint/suspicious/noTemplateCurlyInString: JavaScript source written to a file
  writeFileSync(join(pkg, "index.js"), "export const greet = (who) => `greetings, ${who}`;\n");
  mkdirSync(join(dir, "src"));
  writeFileSync(
    join(dir, "src", "greet.ts"),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript source written to a file
    'import { greet } from "greeter";\nexport default { fetch: (req: Request, env: { WHO: string }, ctx: { lane: string }) => new Response(`${greet(env.WHO)} (${ctx.lane})`) };\n',
  );
  writeFileSync(
    join(dir, "lanes.json"),
    JSON.stringify({
      functions: {
        greet: { entry: "src/greet.ts", route: "/greet", env: { WHO: "user" } },
        "greet-process": { entry: "src/greet.ts", route: "/greet-process", lane: "process", env: { WHO: "user" } },
      },
    }),
  );
  cli = await startCli(["start", dir, "--port", "0"]);
});

test.after(async () => {
  cli?.kill("SIGTERM");
  await cli?.exited;
  rmSync(dir, { recursive: true, force: true });
});

test("the CLI prints one listening line with the real port", () => {
  assert.match(cli.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.not.match(cli.url, /:0$/);
});

test("a function importing a package from the user's own node_modules answers in the isolate lane", async () => {
  const res = await fetch(`${cli.url}/greet`);
  assert.is(res.status, 200);
  assert.is(await res.text(), "greetings, user (isolate)");
});

test("the same function answers in the process lane", async () => {
  const res = await fetch(`${cli.url}/greet-process`);
  assert.is(await res.text(), "greetings, user (process)");
});

test("SIGTERM stops the host with exit code 0", async () => {
  cli.kill("SIGTERM");
  const { code } = await cli.exited;
  assert.is(code, 0);
});

test.run();
