/**
 * The console in the browser: one page at a time in <main>, chosen by the URL's fragment
 *   #/               overview            #/fn/NAME      one function
 *   #/deployments    deployments         #/bench        bench results
 * Leaving a page closes its live stream and disposes its charts. After a navigation the page's
 * heading takes the focus, so keyboard and screen-reader users start at the new content.
 */
import { ApiError } from "./api.ts";
import { benchPage } from "./bench.ts";
import { disposeCharts } from "./charts.ts";
import { deploymentsPage } from "./deployments.ts";
import { fill, h } from "./dom.ts";
import { functionPage } from "./function.ts";
import { overviewPage } from "./overview.ts";

/** A page draws itself into `main` and returns what to do when it is left. */
export type Page = (main: HTMLElement, params: string[]) => Promise<() => void>;

const ROUTES: [RegExp, string, Page][] = [
  [/^#?\/?$/, "overview", overviewPage],
  [/^#\/fn\/([^/]+)$/, "overview", functionPage],
  [/^#\/deployments$/, "deployments", deploymentsPage],
  [/^#\/bench$/, "bench", benchPage],
];

let leave: () => void = () => {};
let generation = 0;

async function show(first: boolean): Promise<void> {
  const main = document.getElementById("main")!;
  const mine = ++generation;
  leave();
  leave = () => {};
  disposeCharts();
  const route = ROUTES.find(([re]) => re.test(location.hash));
  for (const a of document.querySelectorAll<HTMLAnchorElement>("[data-nav]")) {
    if (route && a.dataset.nav === route[1]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const params = route && decodeParams(route[0], location.hash);
  if (!route || !params) {
    fill(main, h("h1", { tabindex: "-1" }, "Not found"), h("p", {}, "There is no such page in the console. ", h("a", { href: "#/" }, "Go to the overview.")));
    return;
  }
  try {
    const cleanup = await route[2](main, params);
    if (mine !== generation) return cleanup(); // the user moved on while it loaded
    leave = cleanup;
  } catch (e) {
    if (mine !== generation) return;
    const message = e instanceof ApiError ? e.message : String(e);
    fill(main, h("h1", { tabindex: "-1" }, "Something went wrong"), h("p", { class: "error", role: "alert" }, message));
  }
  if (!first) main.querySelector<HTMLElement>("h1")?.focus({ preventScroll: false });
}

/**
 * The route's parts of the fragment, decoded; undefined when one is no valid escape (a link cut
 * short, #/fn/%E0%A4): decodeURIComponent threw outside the page's try, and the console sat on
 * "Loading…" (or on the page before, its live feed closed) with a script error.
 */
function decodeParams(route: RegExp, hash: string): string[] | undefined {
  try {
    return (route.exec(hash) ?? []).slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

window.addEventListener("hashchange", () => void show(false));
void show(true);
