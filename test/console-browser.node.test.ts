/**
 * The console in a real browser (Chromium through playwright-core), against a `lanes start`
 * host on Node, Bun and Deno, each started by this file: log in, see the functions, follow one,
 * watch a live request appear, promote and roll back with the buttons (each after its
 * confirmation) and see it take effect, read the bench, use it by keyboard and on a phone (on
 * the first host only: that is the page's alone), and fail to act without a session or from
 * another site. No page may break its Content-Security-Policy, and no page may ask anything of
 * another site. With --console-host, the console on admin.localhost, and a function's page on
 * the functions' origin that tries to act in it as the operator (a separate host). Screenshots of each page go to .lanes/screenshots/ or LANES_SCREENSHOTS
 * (RUNTIME-NN-page.png).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { freshScreenshots, launchChromium, watchProblems } from "./helpers/browser.ts";
import { startHostOn, type HostProcess } from "./helpers/console.ts";
import { FUNCTIONS, startAppHosts, startEvilSite, traffic, versionFolder, type EvilSite, type Runtime } from "./helpers/console-world.ts";
import { api, deploy, scratchDir, tokenFile, TOKEN } from "./helpers/deploy.ts";

/** LANES_CONSOLE_RUNTIMES=node narrows it while working on the console. */
const RUNTIMES = (process.env.LANES_CONSOLE_RUNTIMES ?? "node,bun,deno").split(",") as Runtime[];

interface Ctx {
  browser: Browser;
  shots: string;
  hosts: Map<Runtime, HostProcess>;
  evil: EvilSite;
  traffic: { stop(): Promise<void> };
  /** What stopped `before` (uvu would only count the tests as not passed, silently): each test throws it. */
  setupError?: unknown;
}
const test = suite<Ctx>("the console in Chromium");

test.before(async (ctx) => {
  try {
    await setUp(ctx);
  } catch (e) {
    ctx.setupError = e;
  }
});

async function setUp(ctx: Ctx) {
  const t0 = Date.now();
  ctx.shots = freshScreenshots();
  ctx.browser = await launchChromium();
  const hosts = await startAppHosts(RUNTIMES);
  ctx.hosts = new Map(RUNTIMES.map((rt, i) => [rt, hosts[i]!]));
  ctx.traffic = traffic(hosts.map((h) => h.url));
  // a page of another site (localhost is not 127.0.0.1) that tries to act with the operator's session
  ctx.evil = await startEvilSite();
  if (process.env.LANES_TEST_VERBOSE) console.log(`browser and hosts ready in ${Date.now() - t0} ms`);
}

test.after(async (ctx) => {
  await ctx.traffic?.stop();
  await Promise.all([ctx.browser?.close(), ...[...(ctx.hosts?.values() ?? [])].map((h) => h.stop()), ctx.evil?.close()]);
});

// One flow at a time (each in its own browser context, against its own host; the three hosts
// and their traffic run throughout). Run at once on 2 cores, the three renderers, the hosts and
// the traffic took turns for the CPU: a flow that takes 12 s alone took 40-60 s, and a screenshot
// went past its 15 s on CI. What depends on the page alone (keyboard, phone layout) is checked
// once, against the first host.
const pageOnly = (rt: Runtime) => rt === RUNTIMES[0];
for (const rt of RUNTIMES) {
  const extra = pageOnly(rt) ? ", by keyboard and on a phone" : "";
  test(`on a ${rt} host: log in, see, follow, watch, promote, roll back, read the bench${extra}; nothing from another site`, async (ctx) => {
    if (ctx.setupError) throw ctx.setupError;
    await flow(ctx, rt);
  });
}

test("with --console-host admin.localhost: the console on its own origin, and a function's page cannot act in it", async (ctx) => {
  if (ctx.setupError) throw ctx.setupError;
  // the hosts above run without it: they say what it is for
  assert.match(ctx.hosts.get(RUNTIMES[0]!)!.output(), /the console shares its origin with the functions.*--console-host admin\.localhost/);
  // the reviewer's page: read the console's CSRF token on its own origin, then roll back with it
  const attack = `<!doctype html><title>attack</title><script>
(async () => {
  const out = [];
  const page = await fetch("/_lanes/ui/");
  out.push("ui " + page.status);
  const csrf = (/<meta name="lanes-csrf" content="([^"]+)">/.exec(await page.text()) || [])[1] || "";
  const r = await fetch("/_lanes/ui/api/rollback", { method: "POST", headers: { "content-type": "application/json", "x-lanes-csrf": csrf }, body: "{}" });
  out.push("rollback " + r.status);
  document.title = out.join(", ");
})().catch((e) => (document.title = "error " + e));
</script>`;
  const withAttack = (greeting: string) => {
    const dir = versionFolder(greeting);
    writeFileSync(join(dir, "attack.ts"), `export default { fetch: () => new Response(${JSON.stringify(attack)}, { headers: { "content-type": "text/html" } }) };\n`);
    const manifest = JSON.parse(readFileSync(join(dir, "lanes.json"), "utf8")) as { functions: Record<string, unknown> };
    manifest.functions.attack = { entry: "attack.ts" };
    writeFileSync(join(dir, "lanes.json"), JSON.stringify(manifest));
    return dir;
  };
  const host = await startHostOn("node", [
    withAttack("hello from v1"),
    "--data",
    join(scratchDir("ui-data-"), "store"),
    "--admin-token-file",
    tokenFile(),
    "--no-access-log",
    "--console-host",
    "admin.localhost",
  ]);
  const context = await ctx.browser.newContext();
  try {
    assert.not.match(host.output(), /shares its origin/);
    const two = await deploy(host.url, withAttack("hello from v2"), { percent: 30 });
    assert.is(two.status, 201, two.text);
    const before = ((await api(host.url, "GET", "deployment")).json.active as { revision: number }).revision;
    // Chromium takes *.localhost to this machine itself
    const consoleUrl = `http://admin.localhost:${new URL(host.url).port}`;
    const page = await context.newPage();
    await page.goto(`${consoleUrl}/_lanes/ui`);
    await page.fill("#token", TOKEN);
    await page.click("button[type=submit]");
    await page.locator("table.functions").waitFor();
    assert.match((await page.locator("table.functions").textContent()) ?? "", /attack/);
    const cookies = await context.cookies(`${consoleUrl}/_lanes/ui/`);
    assert.equal(
      cookies.map((c) => [c.name, c.domain]),
      [["lanes_console", "admin.localhost"]],
      "the session cookie is the console's name's alone",
    );
    assert.is((await page.goto(`${consoleUrl}/attack`))!.status(), 404, "no function on the console's origin");
    // the operator, logged in, opens the function's page on the functions' origin
    const victim = await context.newPage();
    await victim.goto(`${host.url}/attack`);
    await victim.waitForFunction(() => document.title !== "attack", undefined, { timeout: 10_000 });
    assert.is(await victim.title(), "ui 404, rollback 404");
    const after = ((await api(host.url, "GET", "deployment")).json.active as { revision: number }).revision;
    assert.is(after, before, "no deployment happened");
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${(e as { details?: string }).details ?? ""}\n--- host output ---\n${host.output().slice(-3000)}`, { cause: e });
  } finally {
    await context.close();
    await host.stop();
  }
});

async function flow(ctx: Ctx, rt: Runtime): Promise<void> {
  const host = ctx.hosts.get(rt)!;
  const context = await ctx.browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: "light" });
  // for clicks, fills and screenshots: how long before Chromium is taken to have hung (the waits
  // that stand for what a user is promised, a live request showing up, say, set their own)
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  const problems = await watchProblems(page, host.url);
  let n = 0;
  const shot = (name: string, fullPage = true) => page.screenshot({ path: join(ctx.shots, `${rt}-${String(++n).padStart(2, "0")}-${name}.png`), fullPage });
  const step = async (name: string, run: () => Promise<void>) => {
    const t0 = Date.now();
    await run();
    if (process.env.LANES_TEST_VERBOSE) console.log(`${rt} ${name}: ${Date.now() - t0} ms`);
  };
  try {
    await step("log in", () => logIn(page, host.url, shot));
    await step("overview", () => overview(page, shot));
    await step("function", () => followFunction(page, host.url, shot));
    await step("deployments", () => deployments(page, host.url, shot));
    await step("bench", () => bench(page, shot));
    if (pageOnly(rt)) {
      await step("keyboard", () => keyboard(page, host.url));
      await step("phone", () => phone(page, shot));
    }
    await step("attacker", () => attacker(ctx, context, page, host.url));
    await step("log out", () => logOut(page, context, host.url));
    assert.equal(problems, [], "no request off the host, policy violation or script error on any page");
  } catch (e) {
    await shot("failed").catch(() => {});
    const details = (e as { details?: string }).details ?? "";
    throw new Error(`${rt} host: ${(e as Error).message}\n${details}\n--- host output ---\n${host.output().slice(-3000)}`, { cause: e });
  } finally {
    await context.close();
  }
}

type Shot = (name: string, fullPage?: boolean) => Promise<unknown>;

async function logIn(page: Page, url: string, shot: Shot) {
  await page.goto(`${url}/_lanes/ui`);
  assert.is(await page.locator("label[for=token]").textContent(), "Admin token");
  await shot("login", false);
  await page.fill("#token", "not-the-admin-token-at-all");
  await page.click("button[type=submit]");
  await page.locator("#login-error").waitFor();
  assert.match((await page.locator("#login-error").textContent()) ?? "", /not valid/);
  await page.fill("#token", TOKEN);
  await page.click("button[type=submit]");
  await page.locator("table.functions").waitFor();
  assert.is(await page.evaluate(() => document.cookie), "", "the session cookie is out of the page's reach (HttpOnly)");
  assert.is(await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })), "{}{}", "nothing kept in storage");
}

async function overview(page: Page, shot: Shot) {
  const names = await page.locator("table.functions tbody a.fn-link").allTextContents();
  assert.equal(names.sort(), FUNCTIONS);
  const hello = page.locator("table.functions tbody tr", { has: page.locator("a.fn-link", { hasText: /^hello$/ }) });
  assert.match((await hello.textContent()) ?? "", /isolate/);
  assert.match((await hello.locator("[data-label=Version]").textContent()) ?? "", /v1 70%.*v2 30%/);
  const shout = page.locator("table.functions tbody tr", { has: page.locator("a.fn-link", { hasText: /^shout$/ }) });
  assert.match((await shout.locator("[data-label=Lane]").textContent()) ?? "", /process/);
  // the charts fill as samples arrive (every 2 s): wait for points with requests. A page loaded
  // before the host's first sample shows "–" (no figure yet), which is not a figure either
  await page.waitForFunction(() => {
    const figure = document.querySelector("table.functions .figure")?.textContent ?? "";
    return /\d/.test(figure) && figure !== "0" && document.querySelectorAll("table.functions svg").length >= 6;
  });
  assert.match((await page.locator(".stat", { hasText: "Host memory" }).textContent()) ?? "", /\d+ MB/);
  assert.match((await page.locator(".stat", { hasText: "Host CPU" }).textContent()) ?? "", /\d\.\d\d cores/);
  await shot("overview");
}

async function followFunction(page: Page, url: string, shot: Shot) {
  await page.click("table.functions a.fn-link >> text=/^hello$/");
  await page.locator("h1", { hasText: "hello" }).waitFor();
  assert.match(page.url(), /#\/fn\/hello$/);
  await page.locator("#live.on").waitFor({ timeout: 10_000 });
  const res = await fetch(`${url}/hello`, { headers: { "lanes-version": "v2" } });
  const id = res.headers.get("x-request-id")!;
  assert.is(await res.text(), "hello from v2");
  const row = page.locator(`tr[data-request-id="${id}"]`);
  await row.waitFor({ timeout: 10_000 });
  assert.is(await row.locator("[data-label=Status]").textContent(), "200");
  assert.is(await row.locator("[data-label=Version]").textContent(), "v2");
  assert.match((await row.locator("[data-label=Duration]").textContent()) ?? "", /\d ms/);
  assert.is(await row.locator("code").getAttribute("title"), id);
  assert.match((await page.locator("table.capabilities").textContent()) ?? "", /isolate lane \(this function\)/);
  assert.ok((await page.locator("section", { hasText: "Instances" }).locator("tbody tr").count()) >= 1);
  await shot("function-hello");
  await page.evaluate(() => (location.hash = "#/fn/flaky"));
  await page.locator("h1", { hasText: "flaky" }).waitFor();
  await page.locator("section", { hasText: "Recent errors" }).locator("tbody tr").first().waitFor();
  await shot("function-flaky");
  // a link cut short in an escape: the page says so (it stayed as it was, with a script error)
  await page.evaluate(() => (location.hash = "#/fn/%E0%A4%A"));
  await page.locator("h1", { hasText: "Not found" }).waitFor({ timeout: 10_000 });
}

async function deployments(page: Page, url: string, shot: Shot) {
  await page.click("a[data-nav=deployments]");
  await page.locator("#split").waitFor();
  assert.equal(await page.locator(".split-part strong").allTextContents(), ["v1 · 70%", "v2 · 30%"]);
  // v2's message holds U+202E (console-world.ts): shown, not obeyed, where it read "a friendlier hello"
  assert.is(await page.locator("table.versions tr[data-version=v2] td[data-label=Message]").textContent(), "a friendlier [U+202E]olleh");
  await shot("deployments-gradual");

  // promote: the dialog asks, Escape cancels, then confirmed it takes effect
  await page.click("button >> text=Promote v2 to 100%");
  const dialog = page.locator("dialog[open]");
  await dialog.waitFor();
  assert.match((await dialog.textContent()) ?? "", /Promote v2 to 100%\?/);
  assert.is(await page.evaluate(() => document.activeElement?.textContent), "Cancel", "Cancel has the focus");
  await shot("deployments-confirm", false);
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  assert.ok(((await api(url, "GET", "deployment")).json.active as { canary: unknown }).canary, "cancelled: still gradual");
  await page.click("button >> text=Promote v2 to 100%");
  await dialog.locator("button >> text=Promote").click();
  await page.locator(".split-part", { hasText: "v2 · 100%" }).waitFor({ timeout: 15_000 });
  assert.match((await page.locator("#toast").textContent()) ?? "", /Promoted: v2 serves every request/);
  assert.is(await (await fetch(`${url}/hello`)).text(), "hello from v2");

  // roll back with the button: v1 again, at once
  await page.click("button >> text=Roll back to v1");
  await dialog.waitFor();
  await dialog.locator("button >> text=Roll back").click();
  await page.locator(".split-part", { hasText: "v1 · 100%" }).waitFor({ timeout: 15_000 });
  assert.match((await page.locator("#toast").textContent()) ?? "", /Rolled back: v1 serves every request/);
  const active = (await api(url, "GET", "deployment")).json.active as { stable: string; canary: unknown; reason: string; author: string };
  assert.equal([active.stable, active.canary, active.reason, active.author], ["v1", null, "rollback", "ci"]);
  for (let i = 0; i < 5; i++) assert.is(await (await fetch(`${url}/hello`)).text(), "hello from v1");
  assert.match((await page.locator("table.versions tr[data-version=v1]").textContent()) ?? "", /100%/);
  await shot("deployments-rolled-back");
}

async function bench(page: Page, shot: Shot) {
  await page.click("a[data-nav=bench]");
  await page.locator(".bench-card").first().waitFor({ timeout: 10_000 });
  const cards = page.locator(".bench-card");
  assert.equal(await cards.locator("h2").allTextContents(), ["hello", "io", "cpu", "shared", "body"]);
  assert.is(await cards.first().locator("figure svg").count(), 3, "requests/s, p99 and CPU per request");
  // the card says what the bench.json it shows advises (the repo's, copied by console-world.ts)
  const advised = (JSON.parse(readFileSync(new URL("../loadtest/results/bench.json", import.meta.url), "utf8")) as { advice: { function: string; lane: string }[] }).advice.find(
    (a) => a.function === "hello",
  )!.lane;
  assert.match((await cards.first().locator(".advice").textContent()) ?? "", new RegExp(`Advice: the ${advised} lane`));
  assert.match((await page.locator("p[role=status]").textContent()) ?? "", /bench-results\/bench\.json/);
  await shot("bench");
  // a bench.json of one's own, read in the browser; and a file that is not one
  const mine = {
    meta: { cpuModel: "laptop", cores: 8, memoryGb: 16, connections: 10, durationS: 3, startedAt: "2026-12-01T00:00:00Z", versions: { lanes: "0.1.0" } },
    results: [{ workload: "mine", lane: "isolate", runtime: "node", rps: 1234, p99Ms: 4, cpuMsPerRequest: 0.05 }],
    advice: [{ function: "mine", lane: "isolate", why: "it is mine" }],
  };
  await page.setInputFiles("#bench-file", { name: "mine.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(mine)) });
  await page.locator(".bench-card h2", { hasText: "mine" }).waitFor();
  assert.match((await page.locator(".advice").textContent()) ?? "", /it is mine/);
  await page.setInputFiles("#bench-file", { name: "x.json", mimeType: "application/json", buffer: Buffer.from("<script>alert(1)</script>") });
  await page.locator("p.error", { hasText: "x.json: not a bench.json" }).waitFor();
  assert.is(await page.locator(".bench-card").count(), 0);
}

async function keyboard(page: Page, url: string) {
  // a fresh load: the focus starts at the top of the page
  await page.goto(`${url}/_lanes/ui#/`);
  await page.reload();
  await page.locator("table.functions").waitFor();
  await page.keyboard.press("Tab");
  assert.is(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
  // Tab on to a function's link and open it with Enter
  for (let i = 0; i < 20 && (await page.evaluate(() => document.activeElement?.textContent)) !== "flaky"; i++) await page.keyboard.press("Tab");
  assert.is(await page.evaluate(() => document.activeElement?.textContent), "flaky", "function links are reached by Tab");
  assert.not.equal(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle), "none", "the focus is visible");
  await page.keyboard.press("Enter");
  await page.locator("h1", { hasText: "flaky" }).waitFor();
  assert.is(await page.evaluate(() => document.activeElement?.tagName), "H1", "the new page's heading takes the focus");
}

async function phone(page: Page, shot: Shot) {
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [hash, heading, name] of [
    ["#/", "Overview", "phone-overview"],
    ["#/fn/hello", "hello", "phone-function"],
  ]) {
    await page.evaluate((h) => (location.hash = h), hash!);
    await page.locator("h1", { hasText: heading! }).waitFor();
    await page.locator("main svg").first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 1, `${name}: nothing wider than the phone (${overflow} px over)`);
    // no figure spills out of its table cell (a cell that is too narrow hides the end of its text)
    const spilled = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>("main td, main th")].filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => `${c.dataset.label}: ${c.textContent}`),
    );
    assert.equal(spilled, [], `${name}: every cell holds its content`);
    if (name === "phone-function") {
      // a long page: the shot shows its live requests, two short lines each
      await page.locator("#feed-title").scrollIntoViewIfNeeded();
      await shot(name, false);
    } else {
      await shot(name!);
    }
  }
  await page.setViewportSize({ width: 1280, height: 860 });
}

async function attacker(ctx: Ctx, context: BrowserContext, page: Page, url: string) {
  const before = ((await api(url, "GET", "deployment")).json.active as { revision: number }).revision;
  // another site's page, in the operator's browser: its form post and fetch reach the host without the session
  const evil = await context.newPage();
  const answers: number[] = [];
  evil.on("response", (r) => r.url().startsWith(`${url}/_lanes/ui/api/`) && answers.push(r.status()));
  await evil.goto(`${ctx.evil.url}/${encodeURIComponent(url)}`);
  await evil.waitForURL(`${url}/_lanes/ui/api/rollback`, { timeout: 10_000 });
  assert.ok(answers.length >= 1, "the forged requests were sent");
  for (const s of answers) assert.ok(s === 401 || s === 403, `refused (${s})`);
  await evil.close();
  // the session cookie itself, sent from elsewhere with the CSRF token: refused for its Origin
  const csrf = await page.evaluate(() => document.querySelector<HTMLMetaElement>('meta[name="lanes-csrf"]')!.content);
  const forged = await context.request.post(`${url}/_lanes/ui/api/rollback`, { headers: { origin: ctx.evil.url, "x-lanes-csrf": csrf }, data: { version: "v2" } });
  assert.is(forged.status(), 403);
  // a browser without a session
  const stranger = await ctx.browser.newContext();
  const p = await stranger.newPage();
  await p.goto(`${url}/_lanes/ui`);
  const status = await p.evaluate(async () => (await fetch("/_lanes/ui/api/rollback", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status);
  assert.is(status, 401);
  await stranger.close();
  const after = ((await api(url, "GET", "deployment")).json.active as { revision: number }).revision;
  assert.is(after, before, "no deployment happened");
}

async function logOut(page: Page, context: BrowserContext, url: string) {
  const cookie = (await context.cookies(`${url}/_lanes/ui/`)).find((c) => c.name === "lanes_console")!;
  assert.ok(cookie.httpOnly && cookie.sameSite === "Strict" && cookie.path === "/_lanes/ui");
  await page.click("button >> text=Log out");
  await page.locator("#token").waitFor();
  const res = await fetch(`${url}/_lanes/ui/api/overview`, { headers: { cookie: `lanes_console=${cookie.value}` } });
  assert.is(res.status, 401, "the old cookie is dead");
}

test.run();
