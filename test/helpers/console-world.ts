/**
 * The world the console's browser suite acts in: versions of a small app to deploy, a trickle of
 * traffic so the charts have something to draw, and a page of another site that tries to act
 * with the operator's session.
 */
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import * as assert from "uvu/assert";
import { startHostOn, type HostProcess } from "./console.ts";
import { deploy, scratchDir, tokenFile } from "./deploy.ts";

export type Runtime = "node" | "bun" | "deno";

export const FUNCTIONS = ["flaky", "hello", "shout"];

/** A version folder: hello (isolate) says `greeting`, shout (process lane) and flaky (isolate, 1 in 6 a 500, 1-40 ms) stay the same. */
export function versionFolder(greeting: string): string {
  const dir = scratchDir("ui-version-");
  writeFileSync(join(dir, "hello.ts"), `export default { fetch: () => new Response(${JSON.stringify(greeting)}) };\n`);
  writeFileSync(join(dir, "shout.ts"), `export default { fetch: async (r: Request) => new Response((await r.text()).toUpperCase() || "HEY") };\n`);
  writeFileSync(
    join(dir, "flaky.ts"),
    `export default {
  async fetch() {
    await new Promise((r) => setTimeout(r, 1 + Math.random() * 40));
    return Math.random() < 1 / 6 ? new Response("flaked", { status: 500 }) : new Response("fine");
  },
};
`,
  );
  const functions = {
    hello: { entry: "hello.ts", instances: { min: 1, max: 2 } },
    shout: { entry: "shout.ts", lane: "process" },
    flaky: { entry: "flaky.ts", instances: { min: 1, max: 2 } },
  };
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions }, null, 2));
  return dir;
}

/** A few requests a second to every function of every host, so the charts have something to show. */
export function traffic(urls: string[]) {
  let running = true;
  const loops = urls.map(async (url) => {
    for (let i = 0; running; i++) {
      const fn = FUNCTIONS[i % FUNCTIONS.length]!;
      await fetch(`${url}/${fn}`, fn === "shout" ? { method: "POST", body: "hi" } : {})
        .then((r) => r.arrayBuffer())
        .catch(() => {});
      // about 3 a second per function: enough for every 2 s sample; at 40 a second per host the
      // pages redrew so often that the suite took 10 s more CPU (most of it Chromium's)
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/**
 * One `lanes start` host per runtime, each on v1 of the app with the repo's bench.json in its
 * folder, then v2 (hello changed) deployed to 30%. If one cannot start, the others are stopped.
 */
export async function startAppHosts(runtimes: Runtime[]): Promise<HostProcess[]> {
  const tokens = tokenFile();
  const started = await Promise.allSettled(
    runtimes.map((rt) => {
      const dir = versionFolder("hello from v1");
      mkdirSync(join(dir, "bench-results"));
      cpSync(new URL("../../loadtest/results/bench.json", import.meta.url), join(dir, "bench-results", "bench.json"));
      return startHostOn(rt, [dir, "--data", join(scratchDir("ui-data-"), "store"), "--admin-token-file", tokens, "--no-access-log"]);
    }),
  );
  const hosts = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  try {
    const failed = started.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    await Promise.all(
      hosts.map(async (h) => {
        const r = await deploy(h.url, versionFolder("hello from v2"), { percent: 30, message: "a friendlier \u202eolleh" });
        assert.is(r.status, 201, r.text);
      }),
    );
    return hosts;
  } catch (e) {
    await Promise.all(hosts.map((h) => h.stop()));
    throw e;
  }
}

export interface EvilSite {
  /** http://localhost:PORT: another site than http://127.0.0.1:PORT, for the browser. */
  url: string;
  close(): Promise<void>;
}

/**
 * A page at EVIL/ENCODED-HOST-URL that, once opened, posts to the console of that host the ways
 * another site can: a no-cors fetch of promote with credentials, then a form post of rollback
 * (text/plain, shaped as JSON), which navigates the page to the console's answer.
 */
export async function startEvilSite(): Promise<EvilSite> {
  const server: Server = createServer((req, res) => {
    const target = decodeURIComponent((req.url ?? "/").slice(1));
    res.writeHead(200, { "content-type": "text/html" });
    res.end(`<!doctype html><title>evil</title>
<form id="f" method="post" action="${target}/_lanes/ui/api/rollback" enctype="text/plain"><input name='{"version":"v1","x":"' value='"}'></form>
<script>
fetch(${JSON.stringify(target)} + "/_lanes/ui/api/promote", { method: "POST", mode: "no-cors", credentials: "include", body: "{}" })
  .finally(() => document.getElementById("f").submit());
</script>`);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://localhost:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
