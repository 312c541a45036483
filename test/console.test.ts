/**
 * The console at /_lanes/ui, tried as an attacker would: without a cookie, with a forged or an
 * expired one, from another site, without an Origin, with the token in a URL; and what a logged-in
 * operator gets: a session cookie the page's script cannot read, a policy without inline script,
 * no secret in any answer, a live feed, and figures that are the metrics' own.
 */
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { main } from "../runtime/cli/main.ts";
import { DEFAULT_THROTTLE, parseTokens, type ThrottleOptions } from "../runtime/host/admin-auth.ts";
import { startDeployHost, type DeployHost } from "../runtime/host/deploy-host.ts";
import { createLogger } from "../runtime/log.ts";
import { within } from "../runtime/within.ts";
import { login, postForm, ui } from "./helpers/console.ts";
import { api, deploy, OTHER_TOKEN, scratchDir, TOKEN, versionDir } from "./helpers/deploy.ts";
import { eventually } from "./helpers/cluster.ts";
import { parseExposition, value } from "./helpers/exposition.ts";
import { adapter } from "./helpers/host.ts";
import { withHost, type RawAnswer } from "./helpers/raw-http.ts";

interface Ctx {
  url: string;
  host: DeployHost;
  /** Started with --console-host admin.localhost. */
  named: DeployHost;
  wide: DeployHost;
  wideUrl: string;
  plain: DeployHost;
  dir: string;
}
const test = suite<Ctx>(`the console on a ${adapter.name} host`);
const SECRET_ENV = "env-value-that-must-never-show-0123";
/** Sessions end after IDLE_MS without a request, on the host's clock, which the idle test moves on. */
const IDLE_MS = 60_000;
let clockSkewMs = 0;

/**
 * A version folder (helpers/deploy.ts) without its process-lane function: no test here calls it,
 * and on each of the suite's nine hosts it started a child and a warm spare (0.7 s of CPU a host).
 */
const version = (marker: string, kind: Parameters<typeof versionDir>[1] = "ok", manifest: (m: Record<string, unknown>) => void = () => {}) =>
  versionDir(marker, kind, (m) => {
    delete (m.functions as Record<string, unknown>)["greet-proc"];
    manifest(m);
  });

const start = async (dir: string, o: { hostname?: string; token?: boolean; data?: boolean; consoleHost?: string; throttle?: ThrottleOptions } = {}) =>
  startDeployHost({
    dir,
    port: 0,
    hostname: o.hostname ?? "127.0.0.1",
    dev: false,
    adapter,
    log: createLogger(() => {}),
    tokens: o.token === false ? [] : await parseTokens(`ci ${TOKEN}\nops ${OTHER_TOKEN}`, "test"),
    maxUploadBytes: 1024 * 1024,
    ...(o.data === false ? {} : { data: join(scratchDir("data-"), "store") }),
    consoleSessions: { idleMs: IDLE_MS, maxAgeMs: 3600_000, maxSessions: 100, now: () => Date.now() + clockSkewMs },
    ...(o.consoleHost ? { consoleHost: o.consoleHost } : {}),
    ...(o.throttle ? { throttle: o.throttle } : {}),
  });

test.before(async (ctx) => {
  ctx.dir = version("one", "ok", (m) => {
    const functions = m.functions as Record<string, Record<string, unknown>>;
    functions.greet!.env = { API_KEY: SECRET_ENV };
    // for the long paths' test alone
    functions.wild = { entry: "steady.ts", route: "/wild/*", lane: "isolate" };
  });
  mkdirSync(join(ctx.dir, "bench-results"));
  cpSync(new URL("../loadtest/results/bench.json", import.meta.url), join(ctx.dir, "bench-results", "bench.json"));
  [ctx.host, ctx.wide, ctx.plain, ctx.named] = await Promise.all([
    start(ctx.dir),
    start(version("wide"), { hostname: "0.0.0.0", data: false }),
    start(version("plain"), { token: false }),
    start(version("named"), { consoleHost: "admin.localhost" }),
  ]);
  ctx.url = ctx.host.host.url;
  ctx.wideUrl = `http://127.0.0.1:${ctx.wide.host.server.port}`;
});

test.after(async ({ host, wide, plain, named }) => {
  await Promise.all([host?.stop(2000), wide?.stop(2000), plain?.stop(2000), named?.stop(2000)]);
});

test("a host without an admin token has no console, and says how to turn it on", async ({ plain }) => {
  for (const path of ["/_lanes/ui", "/_lanes/ui/", "/_lanes/ui/api/overview", "/_lanes/ui/assets/console.js"]) {
    const res = await fetch(plain.host.url + path);
    assert.is(res.status, 404, path);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /console is off: this host has no admin token \(start it with --admin-token-file/);
  }
});

test("without a session the console shows its login form and nothing else", async ({ url }) => {
  const page = await fetch(`${url}/_lanes/ui`);
  assert.is(page.status, 200);
  const html = await page.text();
  assert.match(html, /<form class="card login-card" method="post" action="\/_lanes\/ui\/login"/);
  assert.match(html, /<input id="token" name="token" type="password"/);
  assert.not.match(html, /lanes-csrf|console\.js|greet/);
  for (const path of ["api/overview", "api/functions/greet", "api/deployments", "api/bench", "api/stream", "assets/console.js"]) {
    const res = await fetch(`${url}/_lanes/ui/${path}`);
    assert.is(res.status, 401, path);
  }
  const rollback = await ui(url, "POST", "rollback", null, {});
  assert.is(rollback.status, 401);
  assert.is((await fetch(`${url}/_lanes/ui/assets/console.css`)).status, 200, "the login form's stylesheet is public");
});

test("logging in gives an HttpOnly, SameSite=Strict session cookie for /_lanes/ui only, and never sends the token back", async ({ url }) => {
  const me = await login(url, TOKEN);
  assert.match(me.setCookie, /^lanes_console=[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/_lanes\/ui; HttpOnly; SameSite=Strict$/);
  assert.not.ok(me.setCookie.includes(TOKEN));
  const page = await (await fetch(`${url}/_lanes/ui`, { headers: { cookie: me.cookie } })).text();
  assert.match(page, /signed in as ci/);
  assert.match(page, /<script type="module" src="\/_lanes\/ui\/assets\/console\.js\?v=[0-9a-f]{16}"><\/script>/);
  assert.not.ok(page.includes(TOKEN));
});

test("a wrong token gets the form again with 401, and an address that keeps trying gets 429, for the admin API too", async () => {
  // a host of its own, its block long enough to outlast a loaded machine's slow requests (the
  // default's first block, 1 s, ran out between them: a right token then logged in)
  const owner = await start(version("throttle"), { throttle: { ...DEFAULT_THROTTLE, blockMs: 60_000 } });
  const url = owner.host.url;
  try {
    const wrong = await postForm(url, "/_lanes/ui/login", { token: "not-the-token-0000000000" });
    assert.is(wrong.status, 401);
    assert.is(wrong.headers.get("set-cookie"), null);
    assert.match(await wrong.text(), /That token is not valid on this host/);
    let last = wrong;
    for (let i = 0; i < 5; i++) last = await postForm(url, "/_lanes/ui/login", { token: `wrong-token-number-${i}-000000` });
    assert.is(last.status, 429);
    assert.ok(Number(last.headers.get("retry-after")) >= 1);
    assert.match(await last.text(), /too many wrong tokens/);
    // one throttle: the admin API refuses the same address, even with the right token
    assert.is((await api(url, "GET", "versions")).status, 429);
    const blocked = await postForm(url, "/_lanes/ui/login", { token: TOKEN });
    assert.is(blocked.status, 429, "a right token does not lift the block");
  } finally {
    await owner.stop(2000);
  }
});

test("the token never goes in a URL: a query string is refused and gives no session", async ({ url }) => {
  const page = await fetch(`${url}/_lanes/ui?token=${TOKEN}`);
  assert.is(page.status, 400);
  const html = await page.text();
  assert.match(html, /never in the URL/);
  assert.not.ok(html.includes(TOKEN), "the page does not echo it");
  const post = await postForm(url, `/_lanes/ui/login?token=${TOKEN}`, {});
  assert.is(post.status, 400);
  assert.is(post.headers.get("set-cookie"), null);
});

test("a forged session cookie gets nothing", async ({ url }) => {
  const me = await login(url, TOKEN);
  const forged = `lanes_console=${me.cookie.slice("lanes_console=".length).replace(/^./, (c) => (c === "A" ? "B" : "A"))}`;
  for (const cookie of [forged, "lanes_console=", "lanes_console=../../etc/passwd", `lanes_console=${"x".repeat(5000)}`]) {
    assert.is((await ui(url, "GET", "overview", null, undefined, { cookie })).status, 401, cookie.slice(0, 40));
    assert.match(await (await fetch(`${url}/_lanes/ui`, { headers: { cookie } })).text(), /login-card/);
  }
  const post = await ui(url, "POST", "rollback", { cookie: forged, csrf: me.csrf, setCookie: "" }, {});
  assert.is(post.status, 401);
});

test("a session ends after its idle time: its cookie then gets 401 and its stream says logout", async ({ url }) => {
  const s = await login(url, OTHER_TOKEN);
  assert.is((await ui(url, "GET", "overview", s)).status, 200);
  const stream = await ui(url, "GET", "stream", s);
  assert.is(stream.status, 200);
  // the host's sessions live on a clock this test moves: a slow machine cannot end a session early
  clockSkewMs += IDLE_MS + 1000;
  const text = await readUntil(stream, /event: logout/, 10_000);
  assert.match(text, /event: logout/);
  assert.is((await ui(url, "GET", "overview", s)).status, 401);
});

test("a cross-site POST with the session cookie changes nothing: another Origin, Sec-Fetch-Site cross-site, neither header, no CSRF token", async ({ url }) => {
  const me = await login(url, TOKEN);
  const before = (await api(url, "GET", "deployment")).json.active as { revision: number };
  const attempts: [string, Record<string, string>][] = [
    ["another origin", { origin: "http://evil.example" }],
    ["an origin on another port", { origin: url.replace(/:\d+$/, ":1") }],
    ["Origin: null", { origin: "null" }],
    ["Sec-Fetch-Site: cross-site", { "sec-fetch-site": "cross-site", origin: "" }],
    ["Sec-Fetch-Site: same-site", { "sec-fetch-site": "same-site", origin: "" }],
    ["neither Origin nor Sec-Fetch-Site", { origin: "", "sec-fetch-site": "" }],
    ["no CSRF token", { "x-lanes-csrf": "" }],
    ["a wrong CSRF token", { "x-lanes-csrf": me.csrf.replace(/^./, (c) => (c === "A" ? "B" : "A")) }],
  ];
  for (const [what, headers] of attempts) {
    for (const path of ["rollback", "promote"]) {
      const res = await ui(url, "POST", path, me, {}, headers);
      assert.is(res.status, 403, `${path} with ${what}`);
      assert.is(((await res.json()) as { error: { code: string } }).error.code, "forbidden");
    }
  }
  const logout = await postForm(url, "/_lanes/ui/logout", { csrf: me.csrf }, { cookie: me.cookie, origin: "http://evil.example" });
  assert.is(logout.status, 403, "a cross-site logout");
  const crossLogin = await postForm(url, "/_lanes/ui/login", { token: TOKEN }, { origin: "http://evil.example", "sec-fetch-site": "cross-site" });
  assert.is(crossLogin.status, 403, "a cross-site login");
  const after = (await api(url, "GET", "deployment")).json.active as { revision: number };
  assert.is(after.revision, before.revision, "no deployment happened");
  assert.is((await ui(url, "GET", "overview", me)).status, 200, "the session is still good");
});

test("a page of another origin on the same site (a function's page on a sibling name) cannot hold the session's live streams or read its data", async ({ url }) => {
  const me = await login(url, TOKEN);
  // what Chromium sends for EventSource(..., { withCredentials: true }) from http://127.0.0.1:OTHER-PORT:
  // the SameSite=Strict cookie goes along, as the page is of the same site
  const sibling = { "sec-fetch-site": "same-site", "sec-fetch-mode": "cors", "sec-fetch-dest": "empty", origin: "http://127.0.0.1:1" };
  const held: Response[] = [];
  for (let i = 0; i < 6; i++) {
    const res = await ui(url, "GET", "stream", me, undefined, sibling);
    held.push(res);
    assert.is(res.status, 403, `a sibling's stream ${i + 1}`);
    assert.match(res.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/, "the refusal carries the console's headers too");
  }
  for (const site of ["same-site", "cross-site"]) {
    assert.is((await ui(url, "GET", "overview", me, undefined, { ...sibling, "sec-fetch-site": site })).status, 403, `overview from ${site}`);
  }
  const own = await ui(url, "GET", "stream", me, undefined, { "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors" });
  assert.is(own.status, 200, "the console's own stream");
  void own.body?.cancel();
  for (const res of held) void res.body?.cancel();
  assert.is((await ui(url, "GET", "overview", me, undefined, { "sec-fetch-site": "none" })).status, 200, "typed into the address bar");
  assert.is((await ui(url, "GET", "overview", me)).status, 200, "a client that sends no Sec-Fetch-Site");
});

test("every console answer carries a policy without inline script or style, and no page has one", async ({ url }) => {
  const me = await login(url, TOKEN);
  const answers = await Promise.all([
    fetch(`${url}/_lanes/ui`),
    fetch(`${url}/_lanes/ui`, { headers: { cookie: me.cookie } }),
    ui(url, "GET", "overview", me),
    ui(url, "GET", "overview", null),
    fetch(`${url}/_lanes/ui/assets/console.css`),
  ]);
  for (const res of answers) {
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'; script-src 'self'; style-src 'self'/, res.url);
    assert.not.match(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.is(res.headers.get("x-content-type-options"), "nosniff");
    assert.match(res.headers.get("cache-control") ?? "", /no-store|no-cache|immutable/);
  }
  for (const res of answers.slice(0, 2)) {
    const html = await res.text();
    assert.not.match(html, /<script(?![^>]*\ssrc=)[^>]*>/, "an inline script");
    assert.not.match(html, /<style|\sstyle=|\son[a-z]+=/i, "an inline style or handler");
  }
});

test("no secret in any answer: not the tokens, not a function's env values", async ({ url }) => {
  const me = await login(url, TOKEN);
  await fetch(`${url}/greet`);
  const texts = await Promise.all(["overview", "functions/greet", "deployments", "bench"].map(async (p) => (await ui(url, "GET", p, me)).text()));
  texts.push(await (await fetch(`${url}/_lanes/ui`, { headers: { cookie: me.cookie } })).text());
  for (const t of texts) {
    for (const secret of [TOKEN, OTHER_TOKEN, SECRET_ENV]) assert.not.ok(t.includes(secret), `${secret.slice(0, 8)} in ${t.slice(0, 80)}`);
  }
});

test("a function that cannot start with an error of 200 KB is shown broken with the start of its message, not all of it in every view and every live sample", async () => {
  const dir = version("huge", "ok", (m) => {
    (m.functions as Record<string, unknown>).huge = { entry: "huge.ts", lane: "isolate" };
  });
  writeFileSync(join(dir, "huge.ts"), `throw new Error("bad config ".repeat(20_000));\n`);
  const huge = await start(dir, { data: false });
  try {
    const url = huge.host.url;
    assert.is((await fetch(`${url}/huge`)).status, 503);
    const me = await login(url, TOKEN);
    const detail = (await (await ui(url, "GET", "functions/huge", me)).json()) as { function: { status: string; error: string } };
    assert.is(detail.function.status, "broken");
    assert.match(detail.function.error, /^its module failed to load: bad config bad config /);
    assert.ok(detail.function.error.length < 3000, `an error of ${detail.function.error.length} characters`);
    assert.match(detail.function.error, /more characters cut\)$/);
    const overview = await (await ui(url, "GET", "overview", me)).text();
    assert.ok(overview.length < 50_000, `an overview of ${overview.length} characters`);
    const sample = await readUntil(await ui(url, "GET", "stream", me), /event: sample\ndata: .*\n\n/, 10_000);
    assert.match(sample, /"status":"broken"/);
    assert.ok(sample.length < 20_000, `a sample of ${sample.length} characters`);
  } finally {
    await huge.stop(2000);
  }
});

test("a start error that names a URL shows the URL whole, and the host's own file paths cut to the file's name", async () => {
  const dir = version("url", "ok", (m) => {
    (m.functions as Record<string, unknown>).remote = { entry: "remote.ts", lane: "isolate" };
  });
  writeFileSync(join(dir, "remote.ts"), `throw new Error("cannot reach https://api.example.com/v1/users from " + import.meta.url);\n`);
  const host = await start(dir, { data: false });
  try {
    const url = host.host.url;
    const res = await fetch(`${url}/remote`);
    assert.is(res.status, 503);
    const answered = ((await res.json()) as { error: { message: string } }).error.message;
    const me = await login(url, TOKEN);
    const shown = ((await (await ui(url, "GET", "functions/remote", me)).json()) as { function: { error: string } }).function.error;
    for (const message of [answered, shown]) {
      assert.ok(message.includes("cannot reach https://api.example.com/v1/users from "), message);
      assert.not.match(message, /file:|\/tmp\/|\/home\//, "no path of the host's");
    }
  } finally {
    await host.stop(2000);
  }
});

test("on a host other machines can reach, nothing of the console is readable without a session", async ({ wideUrl }) => {
  const paths = [
    "/_lanes/ui/api/overview",
    "/_lanes/ui/api/functions/greet",
    "/_lanes/ui/api/deployments",
    "/_lanes/ui/api/bench",
    "/_lanes/ui/api/stream",
    "/_lanes/ui/assets/console.js",
    "/_lanes/ui/api/nope",
  ];
  for (const path of paths) assert.is((await fetch(wideUrl + path)).status, 401, path);
  const page = await (await fetch(`${wideUrl}/_lanes/ui`)).text();
  assert.match(page, /login-card/);
  assert.not.match(page, /greet|steady|node|bun|deno/, "the login form names nothing of the host");
  const me = await login(wideUrl, TOKEN);
  const overview = (await (await ui(wideUrl, "GET", "overview", me)).json()) as { functions: { name: string }[] };
  assert.equal(overview.functions.map((f) => f.name).sort(), ["greet", "steady"]);
  const deployments = (await (await ui(wideUrl, "GET", "deployments", me)).json()) as { enabled: boolean; why: string };
  assert.equal(deployments.enabled, false);
  assert.match(deployments.why, /keeps no versions: start it with --data DIR/);
});

test("the live stream sends a function's requests as they are answered: request id, status, duration, version", async ({ url }) => {
  const me = await login(url, TOKEN);
  const stream = await ui(url, "GET", "stream?fn=greet", me);
  assert.is(stream.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const res = await fetch(`${url}/greet?from=stream`);
  const id = res.headers.get("x-request-id")!;
  const text = await readUntil(stream, new RegExp(id), 10_000);
  const event = text.split("\n\n").find((e) => e.includes(id))!;
  assert.match(event, /^event: requests\ndata: /);
  const entry = (JSON.parse(event.slice(event.indexOf("data: ") + 6)) as { requestId: string; status: number; ms: number; version: string; path: string }[]).find(
    (e) => e.requestId === id,
  )!;
  assert.is(entry.status, 200);
  assert.is(entry.version, "v1");
  assert.is(entry.path, "/greet");
  assert.ok(entry.ms > 0);
  assert.is((await ui(url, "GET", "stream?fn=nope", me)).status, 404);
});

test("a function a deploy removes leaves the console with its requests: brought back by a later deploy, its page starts empty", async () => {
  const owner = await start(version("gone-1"));
  try {
    const url = owner.host.url;
    const me = await login(url, TOKEN);
    const old = (await fetch(`${url}/steady`)).headers.get("x-request-id")!;
    const ids = async () => ((await (await ui(url, "GET", "functions/steady", me)).json()) as { recent: { requestId: string }[] }).recent.map((r) => r.requestId);
    assert.ok((await ids()).includes(old), "before: its request is on its page");
    const without = await deploy(
      url,
      version("gone-2", "ok", (m) => delete (m.functions as Record<string, unknown>).steady),
    );
    assert.is(without.status, 201, without.text);
    assert.is((await ui(url, "GET", "functions/steady", me)).status, 404);
    const back = await deploy(url, version("gone-3"));
    assert.is(back.status, 201, back.text);
    const fresh = (await fetch(`${url}/steady`)).headers.get("x-request-id")!;
    assert.equal(await ids(), [fresh], "only what the function answered since it came back");
  } finally {
    await owner.stop(2000);
  }
});

test("requests with paths of 15,000 characters: the console keeps each path's first 1,000, not all of them in the host's memory, its pages and its live events", async ({
  url,
}) => {
  const me = await login(url, TOKEN);
  const stream = await ui(url, "GET", "stream?fn=wild", me);
  const long = (i: number) => `/wild/${String(i).padStart(4, "0")}${"a".repeat(15_000)}`;
  const sent = 40;
  for (let i = 0; i < sent; i++) assert.is((await fetch(url + long(i))).status, 200);
  const text = await readUntil(stream, /"seq":39,/, 15_000);
  const page = await (await ui(url, "GET", "functions/wild", me)).text();
  const recent = (JSON.parse(page) as { recent: { path: string }[] }).recent;
  assert.is(recent.length, sent);
  assert.equal(
    recent.map((r) => [r.path.length, r.path === `${long(recent.indexOf(r)).slice(0, 1000)}…`]),
    Array.from({ length: sent }, () => [1001, true]),
    "each path's first 1,000 characters and an ellipsis",
  );
  assert.ok(page.length < 100_000, `the function's page data: ${page.length} characters`);
  assert.ok(text.length < 100_000, `the live events: ${text.length} characters`);
});

test("a HEAD of the live stream answers its head and holds no stream: the session can still open its streams after many", async ({ url }) => {
  const me = await login(url, TOKEN);
  for (let i = 0; i < 6; i++) {
    const head = await fetch(`${url}/_lanes/ui/api/stream?fn=greet`, { method: "HEAD", headers: { cookie: me.cookie } });
    assert.is(head.status, 200, `HEAD ${i + 1}`);
    assert.is(head.headers.get("content-type"), "text/event-stream; charset=utf-8");
  }
  const stream = await ui(url, "GET", "stream?fn=greet", me);
  assert.is(stream.status, 200, "a stream after the HEADs");
  assert.match(await readUntil(stream, /retry: 2000/, 5000), /retry: 2000/);
});

test("the console's requests/s are the metrics' counts: every request answered shows in its points", async ({ url }) => {
  const me = await login(url, TOKEN);
  const before = await metricCount(url);
  const sent = 25;
  await Promise.all(Array.from({ length: sent }, () => fetch(`${url}/steady`).then((r) => r.text())));
  assert.is((await metricCount(url)) - before, sent);
  // wait for a sample past the requests, then add up the points
  const deadline = Date.now() + 15_000;
  let total = 0;
  while (Date.now() < deadline) {
    const o = (await (await ui(url, "GET", "overview", me)).json()) as { functions: { name: string; series: { points: { requests: number }[] } }[] };
    total = o.functions.find((f) => f.name === "steady")!.series.points.reduce((n, p) => n + p.requests, 0);
    if (total >= before + sent) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.is(total, before + sent, "requests in the points");
});

test("promote and rollback from the console switch the deployment, recorded with the session's token name; a stale page gets 409", async ({ url, dir }) => {
  const me = await login(url, TOKEN);
  const two = await deploy(url, version("two"), { percent: 30 });
  assert.is(two.status, 201, two.text);
  const stale = await ui(url, "POST", "promote", me, { ifVersion: "v1" });
  assert.is(stale.status, 409, "a page that still shows v1");
  const promote = await ui(url, "POST", "promote", me, { ifVersion: "v2" });
  assert.is(promote.status, 200, await promote.clone().text());
  assert.equal(((await promote.json()) as { deployment: { stable: string; canary: null; author: string } }).deployment.stable, "v2");
  const rollback = await ui(url, "POST", "rollback", me, { version: "v1", ifVersion: "v2" });
  assert.is(rollback.status, 200);
  const d = (await (await ui(url, "GET", "deployments", me)).json()) as { active: { stable: string; canary: null; reason: string; author: string } };
  assert.equal([d.active.stable, d.active.canary, d.active.reason, d.active.author], ["v1", null, "rollback", "ci"]);
  const greet = await fetch(`${url}/greet`);
  assert.equal([greet.headers.get("lanes-version"), await greet.text()], ["v1", "one"]);
  assert.ok(dir);
});

test("a console route asked for with another method gets 405 naming the methods it takes, not a 404 saying it is not there", async ({ url }) => {
  const me = await login(url, TOKEN);
  const session = { cookie: me.cookie, origin: url, "sec-fetch-site": "same-origin", "x-lanes-csrf": me.csrf };
  const cases = [
    ["GET", "/_lanes/ui/login", "POST"],
    ["GET", "/_lanes/ui/logout", "POST"],
    ["DELETE", "/_lanes/ui", "GET, HEAD"],
    ["POST", "/_lanes/ui/", "GET, HEAD"],
    ["POST", "/_lanes/ui/assets/console.css", "GET, HEAD"],
    ["POST", "/_lanes/ui/api/overview", "GET, HEAD"],
    ["POST", "/_lanes/ui/api/deployments", "GET, HEAD"],
    ["GET", "/_lanes/ui/api/promote", "POST"],
    ["GET", "/_lanes/ui/api/rollback", "POST"],
  ] as const;
  for (const [method, path, allow] of cases) {
    const res = await fetch(url + path, { method, headers: session });
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal([res.status, res.headers.get("allow"), body.error.code], [405, allow, "method_not_allowed"], `${method} ${path}: ${body.error.message}`);
  }
  const none = await fetch(`${url}/_lanes/ui/api/nope`, { headers: session });
  assert.is(none.status, 404, "a page that is not there");
  await none.arrayBuffer();
  const stranger = await fetch(`${url}/_lanes/ui/api/promote`);
  assert.is(stranger.status, 401, "the API still needs a session");
  await stranger.arrayBuffer();
});

test("the bench page reads bench.json from the host's folder", async ({ url }) => {
  const me = await login(url, TOKEN);
  const res = await ui(url, "GET", "bench", me);
  assert.is(res.status, 200);
  const body = (await res.json()) as { file: string; report: { results: unknown[]; advice: unknown[] } };
  assert.match(body.file, /bench-results\/bench\.json$/);
  assert.ok(body.report.results.length > 10);
  assert.ok(body.report.advice.length > 0);
});

test("logging out ends the session at once", async ({ url }) => {
  const s = await login(url, TOKEN);
  const out = await postForm(url, "/_lanes/ui/logout", { csrf: s.csrf }, { cookie: s.cookie });
  assert.is(out.status, 303);
  assert.match(out.headers.get("set-cookie") ?? "", /^lanes_console=; Max-Age=0; Path=\/_lanes\/ui; HttpOnly; SameSite=Strict$/);
  assert.is((await ui(url, "GET", "overview", s)).status, 401);
});

test("behind a TLS proxy that keeps the Host header (Caddy's reverse_proxy), the console logs in with a Secure cookie, acts and logs out", async ({ url }) => {
  // the browser's page is https://HOST; the proxy asks the host over plain http for the same HOST
  const https = url.replace(/^http:/, "https:");
  const headers = { origin: https, "sec-fetch-site": "same-origin" };
  const res = await postForm(url, "/_lanes/ui/login", { token: TOKEN }, headers);
  assert.is(res.status, 303, await res.text());
  const setCookie = res.headers.get("set-cookie") ?? "";
  assert.match(setCookie, /; HttpOnly; Secure; SameSite=Strict$/, "a cookie the browser never sends over plain http");
  const cookie = setCookie.split(";")[0]!;
  const csrf = /<meta name="lanes-csrf" content="([^"]+)">/.exec(await (await fetch(`${url}/_lanes/ui`, { headers: { cookie } })).text())?.[1] ?? "";
  const me = { cookie, csrf, setCookie };
  const rollback = await ui(url, "POST", "rollback", me, { ifVersion: "v99" }, { origin: https });
  assert.is(rollback.status, 409, "past the origin check: refused for its stale ifVersion only");
  for (const other of [https.replace(/:\d+$/, ":1"), "https://evil.example", "ftp://127.0.0.1"]) {
    assert.is((await ui(url, "POST", "rollback", me, { ifVersion: "v99" }, { origin: other })).status, 403, other);
  }
  const out = await postForm(url, "/_lanes/ui/logout", { csrf }, { ...headers, cookie });
  assert.is(out.status, 303);
  assert.match(out.headers.get("set-cookie") ?? "", /^lanes_console=; Max-Age=0; Path=\/_lanes\/ui; HttpOnly; Secure; SameSite=Strict$/);
  assert.is((await ui(url, "GET", "overview", me)).status, 401);
});

test("with --console-host, the console answers on that name only, and no function does there", async ({ named }) => {
  const url = named.host.url;
  const port = new URL(url).port;
  const admin = `admin.localhost:${port}`;
  const unrouted404 = async () => value(parseExposition(await (await fetch(`${url}/_lanes/metrics`)).text()), "lanes_unrouted_requests_total", { code: "404" });
  const before = await unrouted404();
  for (const host of [admin, "Admin.LOCALHOST:1", "admin.localhost"]) {
    const page = await withHost(url, host, "GET /_lanes/ui/");
    assert.is(page.status, 200, `the console for Host ${host}`);
    assert.match(page.body, /<form class="card login-card" method="post" action="\/_lanes\/ui\/login"/);
    assert.is((await withHost(url, host, "GET /_lanes/ui/assets/console.css")).status, 200);
  }
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `admin.localhost.evil.example:${port}`, `x.admin.localhost:${port}`]) {
    for (const path of ["/_lanes/ui/", "/_lanes/ui", "/_lanes/ui/api/overview", "/_lanes/ui/assets/console.css"]) {
      const res = await withHost(url, host, `GET ${path}`);
      // a name not this machine's gets nothing of lanes' own on a loopback host (misdirected-host.ts)
      const foreign = host.startsWith("admin.localhost.evil.example");
      assert.is(res.status, foreign ? 403 : 404, `${path} for Host ${host}`);
      assert.match(res.body, foreign ? /DNS rebinding/ : /the console is not served on this host name/);
    }
  }
  // dot segments resolved (dot-segments.ts): a reserved path that resolves to a function's is a function's
  for (const path of ["/greet", "/greet?x=1", "/steady", "/", "/nope", "/_lanes/../greet", "/_lanes/%2e%2e/greet", "/_lanes/ui/../../greet"]) {
    const res = await withHost(url, admin, `GET ${path}`);
    assert.is(res.status, 404, `${path} on the console's name`);
    assert.match(res.body, /serves the console only/);
  }
  const fn = await withHost(url, `127.0.0.1:${port}`, "GET /greet");
  assert.equal([fn.status, fn.body], [200, "named"]);
  // an absolute-form target names its host itself, and Host is then ignored: the name in the URL
  // the function would see decides, on every host
  const absolute = await withHost(url, `127.0.0.1:${port}`, `GET http://${admin}/greet`);
  assert.is(absolute.status, 404, "an absolute-form target naming the console's name");
  assert.match(absolute.body, /serves the console only/);
  // each 404 above counted as every unrouted request is: 12 consoles asked for on another name, 9 functions on the console's
  assert.is(await unrouted404(), before + 21);
  const elsewhere = await withHost(url, admin, `GET http://127.0.0.1:${port}/greet`);
  assert.equal([elsewhere.status, elsewhere.body], [200, "named"], "an absolute-form target naming another name");
  assert.equal([(await fetch(`${url}/greet`)).status, (await withHost(url, "functions.localhost", "GET /greet")).body], [200, "named"]);
  // ready answers 200 once the start-up load check has ended (503 "starting" until then)
  assert.ok(await eventually(async () => (await fetch(`${url}/_lanes/ready`)).status === 200), "ready within 10 s");
  for (const host of [admin, `127.0.0.1:${port}`]) {
    const versions = await withHost(url, host, "GET /_lanes/api/versions", { authorization: `Bearer ${TOKEN}` });
    assert.is(versions.status, 200, `the admin API for Host ${host}`);
    assert.match(versions.body, /"v1"/);
    assert.is((await withHost(url, host, "GET /_lanes/api/versions")).status, 401, "still behind its token");
    for (const path of ["/_lanes/health", "/_lanes/ready", "/_lanes/functions", "/_lanes/metrics"]) {
      assert.is((await withHost(url, host, `GET ${path}`)).status, 200, `${path} for Host ${host}`);
    }
  }
});

test("with --console-host, a session made on the console's name holds a host-only cookie, and a function's origin cannot act with it", async ({ named }) => {
  const url = named.host.url;
  const port = new URL(url).port;
  const admin = `admin.localhost:${port}`;
  const from = (origin: string, site: string) => ({ origin, "sec-fetch-site": site });
  const form = { "content-type": "application/x-www-form-urlencoded" };
  const login = await withHost(url, admin, "POST /_lanes/ui/login", { ...form, ...from(`http://${admin}`, "same-origin") }, `token=${TOKEN}`);
  assert.is(login.status, 303, login.body);
  const setCookie = header(login, "set-cookie");
  assert.match(setCookie, /^lanes_console=[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/_lanes\/ui; HttpOnly; SameSite=Strict$/, "no Domain: the console's name only");
  const cookie = setCookie.split(";")[0]!;
  const page = await withHost(url, admin, "GET /_lanes/ui/", { cookie });
  assert.match(page.body, /signed in as ci/);
  const csrf = /<meta name="lanes-csrf" content="([^"]+)">/.exec(page.body)![1]!;
  const before = (await api(url, "GET", "deployment")).json.active as { revision: number };
  const json = { "content-type": "application/json", cookie, "x-lanes-csrf": csrf };
  // a function's page on 127.0.0.1 calling the console on its own origin finds none
  const own = await withHost(url, `127.0.0.1:${port}`, "POST /_lanes/ui/api/rollback", { ...json, ...from(`http://127.0.0.1:${port}`, "same-origin") }, "{}");
  assert.is(own.status, 404);
  // and calling it on the console's name is a request from another origin
  const cross = await withHost(url, admin, "POST /_lanes/ui/api/rollback", { ...json, ...from(`http://127.0.0.1:${port}`, "cross-site") }, "{}");
  assert.is(cross.status, 403);
  assert.is(((await api(url, "GET", "deployment")).json.active as { revision: number }).revision, before.revision, "no deployment happened");
  const overview = await withHost(url, admin, "GET /_lanes/ui/api/overview", { cookie });
  assert.is(overview.status, 200, "the session is good on the console's name");
});

test("with --console-host, a cookie of the console's name that a function on a sub-name set for the parent domain does not keep the operator out", async ({ named }) => {
  const url = named.host.url;
  const port = new URL(url).port;
  const admin = `admin.localhost:${port}`;
  // a function answering on fn.admin.localhost (every name but the console's is the functions')
  // may set it: Chromium keeps it beside the session's and sends it first, being the older
  const fn = await withHost(url, `fn.admin.localhost:${port}`, "GET /greet");
  assert.is(fn.status, 200, "functions answer on the sub-name");
  const form = { "content-type": "application/x-www-form-urlencoded", origin: `http://${admin}`, "sec-fetch-site": "same-origin" };
  const login = await withHost(url, admin, "POST /_lanes/ui/login", form, `token=${TOKEN}`);
  assert.is(login.status, 303, login.body);
  const mine = header(login, "set-cookie").split(";")[0]!;
  const cookie = `lanes_console=tossed-by-a-function; ${mine}`;
  const page = await withHost(url, admin, "GET /_lanes/ui/", { cookie });
  assert.match(page.body, /signed in as ci/, "the console, not the login form again");
  // one for each folder above a console path (a longer path's cookie is sent first)
  const deep = `${["/_lanes/ui/api/overview", "/_lanes/ui/api/", "/_lanes/ui/api", "/_lanes/ui/", "/_lanes/ui"].map((p) => `lanes_console=tossed-for-${p}`).join("; ")}; ${mine}`;
  assert.is((await withHost(url, admin, "GET /_lanes/ui/api/overview", { cookie: deep })).status, 200);
  const csrf = /<meta name="lanes-csrf" content="([^"]+)">/.exec(page.body)![1]!;
  const out = await withHost(url, admin, "POST /_lanes/ui/logout", { ...form, cookie }, `csrf=${encodeURIComponent(csrf)}`);
  assert.is(out.status, 303, out.body);
  assert.is((await withHost(url, admin, "GET /_lanes/ui/api/overview", { cookie: mine })).status, 401, "logging out ended the session");
});

test("a --console-host that is not a host name exits 2 naming the flag and the rule; without an admin token it says what is missing", async ({ dir }) => {
  for (const value of ["http://admin.localhost", "admin.localhost:8787", "admin.localhost/ui", "admin_host", "", "-admin.localhost", "admin..localhost"]) {
    const r = await lanes(["start", dir, "--port", "0", "--console-host", value]);
    assert.is(r.code, 2, `--console-host ${JSON.stringify(value)}: ${r.err}`);
    assert.ok(
      r.err.includes(
        `lanes start: --console-host must be a host name: letters, digits, dots and hyphens, no scheme, no port, no path (e.g. admin.localhost) (got ${JSON.stringify(value)})`,
      ),
      r.err,
    );
  }
  const untokened = await lanes(["start", dir, "--port", "0", "--console-host", "admin.localhost"]);
  assert.is(untokened.code, 2, untokened.err);
  assert.match(untokened.err, /--console-host names the console's host, and the console needs an admin token: give --admin-token-file FILE or LANES_ADMIN_TOKEN too/);
});

/** The CLI's main in this process: its exit code and what it wrote. */
async function lanes(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main({ ...adapter, writeOut: (t) => void (out += t), writeErr: (t) => void (err += t) }, args);
  return { code, out, err };
}

function header(res: RawAnswer, name: string): string {
  return res.headers.find(([k]) => k === name)?.[1] ?? "";
}

/** Read a streamed body until `pattern` shows (or `ms` pass); the stream is cancelled after. */
async function readUntil(res: Response, pattern: RegExp, ms: number): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const end = Date.now() + ms;
  try {
    while (!pattern.test(text) && Date.now() < end) {
      const next = await within(reader.read(), Math.max(1, end - Date.now()));
      if (next === "late" || next.done) break;
      text += decoder.decode(next.value, { stream: true });
    }
  } finally {
    void reader.cancel().catch(() => {});
  }
  return text;
}

/** lanes_requests_total of steady, summed over codes, from the Prometheus scrape. */
async function metricCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/_lanes/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^lanes_requests_total\{[^}]*function="steady"[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

test.run();
