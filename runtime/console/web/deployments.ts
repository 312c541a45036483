/**
 * Deployments: the active deployment with the split of a gradual one and its counts per side,
 * promote and rollback buttons (each asks first, in a dialog), every version and the history.
 * An action sends the version the page shows as `ifVersion`: if someone deployed meanwhile, the
 * host refuses (409) instead of acting on a deployment nobody here has seen. The page is drawn
 * again from the host's answer, so the result shows at once.
 */
import { ApiError, get, post, type Deployments, type SwitchResult, type VersionInfo } from "./api.ts";
import { fill, fmtDateTime, fmtNumber, h, toast } from "./dom.ts";
import type { Page } from "./main.ts";

type Enabled = Extract<Deployments, { enabled: true }>;

export const deploymentsPage: Page = async (main) => {
  const d = await get<Deployments>("deployments");
  if (!d.enabled) {
    fill(main, h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Deployments")), h("div", { class: "card empty" }, h("p", {}, d.why)));
    return () => {};
  }
  draw(main, d);
  return () => document.querySelector("dialog")?.remove();
};

function draw(main: HTMLElement, d: Enabled): void {
  const a = d.active;
  const current = a.canary?.version ?? a.stable;
  const previous = previousVersion(d);
  const act = async (what: "promote" | "rollback", body: Record<string, unknown>, done: (r: SwitchResult) => string) => {
    try {
      const r = await post<SwitchResult>(what, { ...body, ifVersion: current });
      toast(done(r));
    } catch (e) {
      toast(e instanceof ApiError ? e.message : String(e), "bad");
    }
    const again = await get<Deployments>("deployments");
    if (again.enabled) draw(main, again);
    main.querySelector<HTMLElement>("h1")?.focus();
  };
  const rollbackTo = (target: string, label: string) =>
    confirmThen(
      `Roll back to ${label}?`,
      `Every request goes to ${label} at once${a.canary ? `, and ${a.canary.version} gets none` : ""}. Requests already running finish where they started.`,
      "Roll back",
      () => act("rollback", { version: target }, (r) => `Rolled back: ${r.version} serves every request (switched in ${r.switchMs} ms).`),
    );

  const actions = h(
    "div",
    { class: "actions" },
    a.canary
      ? h(
          "button",
          {
            class: "primary",
            type: "button",
            onclick: () =>
              confirmThen(
                `Promote ${a.canary!.version} to 100%?`,
                `Every request goes to ${a.canary!.version}; ${a.stable} stops serving once its requests finish.`,
                "Promote",
                () => act("promote", {}, (r) => `Promoted: ${r.version} serves every request.`),
              ),
          },
          `Promote ${a.canary.version} to 100%`,
        )
      : null,
    previous
      ? h("button", { class: "danger", type: "button", onclick: () => rollbackTo(previous, previous) }, `Roll back to ${previous}`)
      : h("p", { class: "muted" }, "No earlier version to roll back to."),
  );

  fill(
    main,
    h(
      "div",
      { class: "page-head" },
      h("h1", { tabindex: "-1" }, "Deployments"),
      h("p", { class: "muted" }, `Deployment ${a.revision}: ${a.reason} by ${a.author}, ${fmtDateTime(a.createdAt)}`),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "active-title" },
      h("h2", { id: "active-title", class: "card-title" }, "Serving now"),
      split(d),
      a.canary
        ? h("p", { class: "muted" }, `Changed in ${a.canary.version}: ${a.canary.changed.join(", ") || "nothing"}${a.canary.autoRollback ? " · auto-rollback is watching" : ""}`)
        : null,
      a.message ? h("p", { class: "prose" }, a.message) : null,
      actions,
    ),
    h(
      "section",
      { class: "card flush", "aria-labelledby": "versions-title" },
      h("h2", { id: "versions-title", class: "card-title" }, "Versions"),
      h(
        "table",
        { class: "responsive versions" },
        h("thead", {}, h("tr", {}, ...["Version", "Created", "Tag", "Message", "Author", "Files", "Share", ""].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, ...d.versions.map((v) => versionRow(v, a.stable, a.canary?.version, rollbackTo))),
      ),
    ),
    h(
      "section",
      { class: "card flush", "aria-labelledby": "history-title" },
      h("h2", { id: "history-title", class: "card-title" }, "History"),
      h(
        "table",
        { class: "responsive" },
        h("thead", {}, h("tr", {}, ...["#", "When", "What", "Serving", "By", "Message"].map((t) => h("th", { scope: "col" }, t)))),
        h(
          "tbody",
          {},
          ...d.deployments.map((x) =>
            h(
              "tr",
              {},
              h("td", { "data-label": "#", class: "num" }, String(x.revision)),
              h("td", { "data-label": "When" }, fmtDateTime(x.createdAt)),
              h("td", { "data-label": "What" }, h("span", { class: `pill ${x.reason.includes("rollback") ? "warn" : "neutral"}` }, x.reason)),
              h("td", { "data-label": "Serving" }, x.canary ? `${x.stable} ${100 - x.canary.percent}% · ${x.canary.version} ${x.canary.percent}%` : `${x.stable} 100%`),
              h("td", { "data-label": "By" }, x.author),
              h("td", { "data-label": "Message", class: "prose" }, x.message ?? ""),
            ),
          ),
        ),
      ),
    ),
  );
}

/** What "roll back" goes to, as the host decides it: a gradual deployment's stable side, else the last other version that served alone. */
function previousVersion(d: Enabled): string | undefined {
  const a = d.active;
  if (a.canary) return a.stable;
  return d.deployments.find((x) => x.revision < a.revision && !x.canary && x.stable !== a.stable)?.stable;
}

function split(d: Enabled): HTMLElement {
  const a = d.active;
  const canary = a.canary?.percent ?? 0;
  const side = (name: string, percent: number, cls: string, counts?: { requests: number; errors: number }) =>
    h(
      "div",
      { class: `split-part ${cls}`, "data-percent": String(percent) },
      h("strong", {}, `${name} · ${percent}%`),
      counts ? h("span", {}, `${fmtNumber(counts.requests)} requests, ${fmtNumber(counts.errors)} 5xx`) : null,
    );
  const bar = h("div", { class: "split-bar", role: "img", "aria-label": a.canary ? `${a.stable} ${100 - canary}%, ${a.canary.version} ${canary}%` : `${a.stable} 100%` });
  // widths through the CSSOM (the policy allows no style attribute)
  const stable = h("span", { class: "stable" });
  stable.style.width = `${100 - canary}%`;
  const next = h("span", { class: "canary" });
  next.style.width = `${canary}%`;
  bar.append(stable, next);
  return h(
    "div",
    { class: "split", id: "split" },
    bar,
    h("div", { class: "split-legend" }, side(a.stable, 100 - canary, "stable", d.counts?.stable), a.canary ? side(a.canary.version, canary, "canary", d.counts?.canary) : null),
  );
}

function versionRow(v: VersionInfo, stable: string, canary: string | undefined, rollbackTo: (id: string, label: string) => void): HTMLElement {
  const serving = v.id === stable || v.id === canary;
  return h(
    "tr",
    { "data-version": v.id, class: serving ? "serving" : "" },
    h("th", { scope: "row", "data-label": "Version" }, h("span", { class: "version" }, v.id)),
    h("td", { "data-label": "Created" }, fmtDateTime(v.createdAt)),
    h("td", { "data-label": "Tag", class: "prose" }, v.tag ?? ""),
    h("td", { "data-label": "Message", class: "prose" }, v.message ?? ""),
    h("td", { "data-label": "Author" }, v.author),
    h("td", { "data-label": "Files", class: "num" }, String(v.files)),
    h("td", { "data-label": "Share", class: "num" }, v.percent ? h("span", { class: "pill ok" }, `${v.percent}%`) : "–"),
    h(
      "td",
      { "data-label": "" },
      v.percent === 100
        ? null
        : h("button", { type: "button", class: "quiet small", onclick: () => rollbackTo(v.id, v.id), "aria-label": `Roll back to ${v.id}` }, "Roll back to this"),
    ),
  );
}

/** A modal dialog that asks before acting; Cancel has the focus, Escape cancels. */
function confirmThen(title: string, text: string, verb: string, then: () => Promise<void>): void {
  document.querySelector("dialog")?.remove();
  const ok = h("button", { type: "button", class: "danger", value: "ok" }, verb);
  const cancel = h("button", { type: "button", class: "quiet", value: "cancel" }, "Cancel");
  const dialog = h(
    "dialog",
    { "aria-labelledby": "dialog-title", "aria-describedby": "dialog-text" },
    h("h2", { id: "dialog-title" }, title),
    h("p", { id: "dialog-text" }, text),
    h("div", { class: "actions" }, cancel, ok),
  );
  document.body.append(dialog);
  const opener = document.activeElement as HTMLElement | null;
  cancel.addEventListener("click", () => dialog.close());
  ok.addEventListener("click", () => {
    ok.disabled = true;
    ok.textContent = `${verb}…`;
    void then().finally(() => dialog.close());
  });
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (opener?.isConnected) opener.focus();
  });
  dialog.showModal();
  cancel.focus();
}
