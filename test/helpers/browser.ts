/**
 * A real browser for the console suites: the system's Chromium (the Debian package; `.ci/run`
 * installs it), driven by playwright-core, headless, with a fresh profile and no network of its
 * own. Without Chromium the suite fails, saying how to get it: it never passes without a browser.
 * playwright-core brings no browser of its own (nothing is downloaded); it speaks the DevTools
 * protocol to the one given, and its locators wait for what a user would wait for.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = process.env.LANES_CHROMIUM ?? "/usr/bin/chromium";
/**
 * Where the suite writes its screenshots: .lanes/screenshots/ (ignored by git), or the folder
 * in LANES_SCREENSHOTS (docs/console/ holds a set from a Node host, see its README).
 */
export const SCREENSHOTS = process.env.LANES_SCREENSHOTS ?? fileURLToPath(new URL("../../.lanes/screenshots/", import.meta.url));

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `the console's browser suite needs Chromium at ${CHROMIUM}: install it (apt-get install chromium; .ci/run does when it runs as root) or set LANES_CHROMIUM to a Chromium binary`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // --no-sandbox: Chromium's own sandbox refuses to run as root, as CI does (Playwright's
    // default, chromiumSandbox: false, says the same). The browser runs only the console's pages.
    // The rest: a test browser has no business calling home (and this machine has no internet).
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/** The screenshots folder, without the PNGs of an earlier run. */
export function freshScreenshots(): string {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const f of readdirSync(SCREENSHOTS)) if (f.endsWith(".png")) rmSync(join(SCREENSHOTS, f));
  return SCREENSHOTS;
}

/**
 * Every request of `page` to anywhere but `origin` (the console must work on a machine without
 * internet: no CDN, no font service), every Content-Security-Policy violation and every script
 * error on it, across its navigations:
 * a listener put in before any of the page's own scripts run (Playwright adds it outside the
 * page's policy) reports each violation to the test.
 */
export async function watchProblems(page: Page, origin: string): Promise<string[]> {
  const problems: string[] = [];
  page.on("request", (r) => {
    if (new URL(r.url()).origin !== origin && !r.url().startsWith("data:")) problems.push(`a request off the host: ${r.url()}`);
  });
  page.on("pageerror", (e) => problems.push(`script error: ${e.message}`));
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  await page.exposeFunction("__lanesViolation", (text: string) => problems.push(`policy violation: ${text}`));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      (window as unknown as { __lanesViolation(t: string): void }).__lanesViolation(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  return problems;
}
