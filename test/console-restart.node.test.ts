/**
 * The console in Chromium when its host restarts: sessions live in the host's memory, so the
 * page open before the restart holds a session the host no longer knows. It must say so by
 * showing the login form, not sit on stale figures marked "Offline" for good.
 */
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { launchChromium } from "./helpers/browser.ts";
import { startHostOn } from "./helpers/console.ts";
import { versionFolder } from "./helpers/console-world.ts";
import { scratchDir, tokenFile, TOKEN } from "./helpers/deploy.ts";

const test = suite("the console in Chromium across a host restart");

test("after the host restarts, an open console page shows the login form again", async () => {
  const args = [versionFolder("hello"), "--data", join(scratchDir("ui-data-"), "store"), "--admin-token-file", tokenFile(), "--no-access-log"];
  let host = await startHostOn("node", args);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${host.url}/_lanes/ui`);
    await page.fill("#token", TOKEN);
    await page.click("button[type=submit]");
    await page.locator("#live.on").waitFor({ timeout: 15_000 });
    await host.stop();
    // the same address, a new process: the page's session is gone with the old one
    host = await startHostOn("node", args, Number(new URL(host.url).port));
    await page.locator("#token").waitFor({ timeout: 15_000 });
    assert.is(await page.locator("label[for=token]").textContent(), "Admin token");
  } finally {
    await browser.close();
    await host.stop();
  }
});

test.run();
