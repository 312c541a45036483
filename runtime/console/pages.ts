/**
 * The console's two HTML documents: the login form (served without a session; a plain form
 * POST, no script) and the shell the console's script fills in. Neither has an inline script or
 * style: everything comes from /_lanes/ui/assets/. Every value put in is escaped.
 */
export const BASE = "/_lanes/ui";

/** The 404 of /_lanes/ui on a host without an admin token. */
export const CONSOLE_OFF = "the console is off: this host has no admin token (start it with --admin-token-file FILE or LANES_ADMIN_TOKEN)";

export interface AssetUrls {
  css: string;
  js: string;
  icon: string;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function head(title: string, assets: AssetUrls, extra = ""): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="${assets.icon}" type="image/svg+xml">
<link rel="stylesheet" href="${assets.css}">
${extra}</head>`;
}

/** The login form; `message` says why the last attempt failed. */
export function loginPage(assets: AssetUrls, message?: string): string {
  return `${head("Log in · lanes console", assets)}
<body class="login-body">
<main class="login">
<form class="card login-card" method="post" action="${BASE}/login" autocomplete="off">
<h1><span class="mark" aria-hidden="true"></span>lanes console</h1>
<p class="muted">See and steer this host: its functions, lanes, deployments and bench.</p>
<label for="token">Admin token</label>
<input id="token" name="token" type="password" required autofocus spellcheck="false" autocapitalize="off" aria-describedby="token-help${message ? " login-error" : ""}">
<p id="token-help" class="hint">A token from the host's <code>--admin-token-file</code> (or <code>LANES_ADMIN_TOKEN</code>). It is exchanged for a session cookie; the browser does not keep it.</p>
${message ? `<p id="login-error" class="error" role="alert">${escapeHtml(message)}</p>\n` : ""}<button type="submit" class="primary">Log in</button>
</form>
</main>
</body>
</html>
`;
}

/** The console itself, for a logged-in session: header and navigation; the script draws the rest. */
export function shellPage(assets: AssetUrls, who: string, csrf: string): string {
  return `${head("lanes console", assets, `<meta name="lanes-csrf" content="${escapeHtml(csrf)}">\n<script type="module" src="${assets.js}"></script>\n`)}
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="#/"><span class="mark" aria-hidden="true"></span>lanes</a>
<nav aria-label="Console">
<a href="#/" data-nav="overview">Overview</a>
<a href="#/deployments" data-nav="deployments">Deployments</a>
<a href="#/bench" data-nav="bench">Bench</a>
</nav>
<form class="logout" method="post" action="${BASE}/logout">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<span class="who">${escapeHtml(who)}</span>
<button type="submit" class="quiet">Log out</button>
</form>
</header>
<main id="main" tabindex="-1"><p class="muted">Loading…</p></main>
<div id="toast" class="toast" role="status" aria-live="polite"></div>
</body>
</html>
`;
}
