/**
 * The console in Chromium with much to show: a host with hundreds of functions, whose overview
 * must come up and stay usable while the live stream updates it every two seconds, and requests
 * with very long paths, which any client can send and the function's page lists, and long
 * words where the pages show text: deployment messages, a function's start error.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { launchChromium, watchProblems } from "./helpers/browser.ts";
import { startHostOn, type HostProcess } from "./helpers/console.ts";
import { versionFolder } from "./helpers/console-world.ts";
import { deploy, scratchDir, tokenFile, TOKEN } from "./helpers/deploy.ts";

const test = suite<{ host: HostProcess; browser: Browser }>("the console in Chromium with much to show");
const COUNT = 250;

test.before(async (ctx) => {
  const dir = scratchDir("ui-many-");
  writeFileSync(join(dir, "f.ts"), `export default { fetch: () => new Response("ok") };\n`);
  const functions: Record<string, unknown> = Object.fromEntries(Array.from({ length: COUNT }, (_, i) => [`fn-${i}`, { entry: "f.ts", instances: { min: 0, max: 1 } }]));
  functions.wide = { entry: "f.ts", route: "/wide/*" };
  // packed, as a host of hundreds of small functions would be (README, "Many functions on one
  // host"): the start-up load check loads each into a shared worker, not a worker of its own (250
  // worker starts took more CPU than the rest of the suite); the console shows the same rows
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ pack: true, functions }));
  ctx.host = await startHostOn("node", [dir, "--admin-token-file", tokenFile(), "--no-access-log"]);
  ctx.browser = await launchChromium();
});

test.after(async ({ host, browser }) => {
  await browser?.close();
  await host?.stop();
});

test(`with ${COUNT} functions the overview shows them all within seconds and draws the charts of the rows on screen only`, async ({ host, browser }) => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const problems = await watchProblems(page, host.url);
  await page.goto(`${host.url}/_lanes/ui`);
  await page.fill("#token", TOKEN);
  const t0 = Date.now();
  await page.click("button[type=submit]");
  await page.locator("table.functions").waitFor({ timeout: 20_000 });
  assert.is(await page.locator("table.functions tbody tr").count(), COUNT + 1);
  const shown = Date.now() - t0;
  assert.ok(shown < 15_000, `the overview took ${shown} ms`);
  await page.locator("#live.on").waitFor({ timeout: 10_000 });
  // two charts a row were drawn for every function, and all drawn again after every sample
  // (every 2 s): the page froze; now only the rows on screen have charts
  const charts = await page.locator("table.functions svg").count();
  assert.ok(charts > 0 && charts < 100, `${charts} charts drawn for ${COUNT} functions`);
  await page.waitForTimeout(4000);
  // the operator scrolls to a function far down the list: its charts are drawn, then clicks it
  const row = page.locator("table.functions tbody tr", { has: page.locator("a.fn-link", { hasText: /^fn-200$/ }) });
  await row.scrollIntoViewIfNeeded({ timeout: 10_000 });
  await row.locator("svg").first().waitFor({ timeout: 10_000 });
  assert.is(await row.locator("svg").count(), 2, "its requests/s and latency charts");
  await row.locator("a.fn-link").click({ timeout: 10_000 });
  await page.locator("h1", { hasText: "fn-200" }).waitFor({ timeout: 10_000 });
  assert.equal(problems, []);
  await page.close();
});

test("a request with a path of 12,000 characters takes one short row of the function's page, its first 1,000 characters in the row's tooltip", async ({ host, browser }) => {
  const long = `/wide/${"x".repeat(12_000)}`;
  assert.is((await fetch(host.url + long)).status, 200);
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await page.goto(`${host.url}/_lanes/ui`);
  await page.fill("#token", TOKEN);
  await page.click("button[type=submit]");
  await page.locator("table.functions").waitFor({ timeout: 20_000 });
  await page.goto(`${host.url}/_lanes/ui#/fn/wide`);
  const row = page.locator("table.requests tbody tr").first();
  await row.waitFor({ timeout: 10_000 });
  // the row wrapped the whole path: 2,500 px for one request, the rest of the page pushed away
  const height = (await row.boundingBox())!.height;
  assert.ok(height < 100, `one request takes ${height} px`);
  // what the host keeps of a path (runtime/console/recent.ts, PATH_CHARS)
  assert.is(await row.locator("td.path").getAttribute("title"), `${long.slice(0, 1000)}…`);
  // a request that arrives while the page is open, too
  assert.is((await fetch(`${host.url}${long}y`)).status, 200);
  const fresh = page.locator("table.requests tbody tr.fresh").first();
  await fresh.waitFor({ timeout: 10_000 });
  assert.ok((await fresh.boundingBox())!.height < 100);
  assert.is(await fresh.locator("td.path").getAttribute("title"), `${`${long}y`.slice(0, 1000)}…`);
  await page.close();
});

test("a deployment message and a start error made of one long word wrap in their cells: the pages stay as wide as the window", async ({ browser }) => {
  const v1 = versionFolder("hello from v1");
  writeFileSync(join(v1, "broken.ts"), `throw new Error("https://example.com/${"x".repeat(3000)}");\n`);
  const manifest = JSON.parse(readFileSync(join(v1, "lanes.json"), "utf8")) as { functions: Record<string, unknown> };
  manifest.functions.broken = { entry: "broken.ts" };
  writeFileSync(join(v1, "lanes.json"), JSON.stringify(manifest));
  const host = await startHostOn("node", [v1, "--data", join(scratchDir("ui-data-"), "store"), "--admin-token-file", tokenFile(), "--no-access-log"]);
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    const wide = () => page.evaluate(() => document.documentElement.scrollWidth);
    await page.goto(`${host.url}/_lanes/ui`);
    await page.fill("#token", TOKEN);
    await page.click("button[type=submit]");
    await page.locator("table.functions").waitFor({ timeout: 20_000 });
    await page.goto(`${host.url}/_lanes/ui#/fn/broken`);
    await page.locator("p.error").waitFor({ timeout: 10_000 });
    assert.ok((await wide()) <= 1280, `the function's page is ${await wide()} px wide`);
    const message = `see https://ci.example.com/builds/${"0123456789abcdef".repeat(60)}`;
    const two = await deploy(host.url, versionFolder("hello from v2"), { message });
    assert.is(two.status, 201, two.text);
    await page.goto(`${host.url}/_lanes/ui#/deployments`);
    await page.locator("tr[data-version=v2]").waitFor({ timeout: 10_000 });
    assert.ok((await page.locator("tr[data-version=v2]").textContent())?.includes(message));
    assert.ok((await wide()) <= 1280, `the deployments page is ${await wide()} px wide`);
    await page.close();
  } finally {
    await host.stop();
  }
});

test.run();
