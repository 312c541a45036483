/**
 * The console in Chromium on a host with hundreds of functions: the overview must come up and
 * stay usable while the live stream updates it every two seconds.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { launchChromium, watchProblems } from "./helpers/browser.ts";
import { startHostOn } from "./helpers/console.ts";
import { scratchDir, tokenFile, TOKEN } from "./helpers/deploy.ts";

const test = suite("the console in Chromium with many functions");
const COUNT = 250;

test(`with ${COUNT} functions the overview shows them all within seconds and draws the charts of the rows on screen only`, async () => {
  const dir = scratchDir("ui-many-");
  writeFileSync(join(dir, "f.ts"), `export default { fetch: () => new Response("ok") };\n`);
  const functions = Object.fromEntries(Array.from({ length: COUNT }, (_, i) => [`fn-${i}`, { entry: "f.ts", instances: { min: 0, max: 1 } }]));
  writeFileSync(join(dir, "lanes.json"), JSON.stringify({ functions }));
  const host = await startHostOn("node", [dir, "--admin-token-file", tokenFile(), "--no-access-log"]);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    const problems = await watchProblems(page, host.url);
    await page.goto(`${host.url}/_lanes/ui`);
    await page.fill("#token", TOKEN);
    const t0 = Date.now();
    await page.click("button[type=submit]");
    await page.locator("table.functions").waitFor({ timeout: 20_000 });
    assert.is(await page.locator("table.functions tbody tr").count(), COUNT);
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
  } finally {
    await browser.close();
    await host.stop();
  }
});

test.run();
