/**
 * The console at /_lanes/ui, on a host with an admin token (off without one, like the admin API):
 *   GET  /_lanes/ui              the console for a session, else the login form
 *   POST /_lanes/ui/login        form field `token` (never in the URL): a session cookie, or the form again
 *   POST /_lanes/ui/logout       form field `csrf`: the session ends
 *   GET  /_lanes/ui/assets/NAME  the stylesheet and icon (public), the script (session only)
 *   /_lanes/ui/api/...           the pages' data and actions, session only (api.ts)
 * Logging in goes through the admin API's token check, with its 429 for an address that keeps
 * trying wrong tokens. Every answer carries a Content-Security-Policy without inline script or
 * style and is not cached (guard.ts); nothing under /_lanes/ui is readable without a session
 * but the login form, its stylesheet and icon.
 */
import { Hono } from "hono";
import { setCookie } from "hono/cookie";
import type { Exchange } from "../../adapters/types.ts";
import { errorResponse, LanesError } from "../errors.ts";
import type { AdminAuth } from "../host/admin-auth.ts";
import { readBody } from "../host/body.ts";
import { otherMethods } from "../host/methods.ts";
import type { WebHandler } from "../host/deploy-front.ts";
import { consoleApi, type ApiOptions } from "./api.ts";
import { loadAssets } from "./assets.ts";
import { checkSameOrigin, checkSameSite, overHttps, SECURITY_HEADERS } from "./guard.ts";
import { BASE, loginPage, shellPage } from "./pages.ts";
import { COOKIE, cookieValues, sameSecret, SessionStore, type Session } from "./session.ts";
import { LiveStreams } from "./stream.ts";

export type ConsoleEnv = {
  Bindings: { ex: Exchange };
  Variables: { requestId: string; session: Session | undefined; sessionId: string | undefined };
};

export interface ConsoleOptions extends Omit<ApiOptions, "streams" | "sessions"> {
  auth: AdminAuth;
  sessions?: SessionStore;
}

export interface Console {
  handle: WebHandler;
  /** Ends the live streams (before the server stops, so it need not wait for them). */
  stop(): void;
}

const FORM_BYTES = 4096;

export async function createConsole(o: ConsoleOptions): Promise<Console> {
  const sessions = o.sessions ?? new SessionStore();
  const assets = await loadAssets(o.adapter.sys);
  const streams = new LiveStreams(o, sessions);
  const app = new Hono<ConsoleEnv>().basePath(BASE);

  app.use(async (c, next) => {
    const requestId = crypto.randomUUID();
    c.set("requestId", requestId);
    await next(); // what it throws is answered by onError first: that answer gets the headers too
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) if (!c.res.headers.has(k)) c.res.headers.set(k, v);
    c.res.headers.set("x-request-id", requestId);
  });
  app.use(async (c, next) => {
    // before the session is looked up: a request of another origin does not count as activity
    if (c.req.path.startsWith(`${BASE}/api/`)) checkSameSite(c.req.raw);
    // each cookie of the name, the first live session's: a function on a sub-name of the console's
    // (fn.admin.localhost, or fn.example.com beside lanes-admin.example.com) can set one for the
    // parent domain, which the browser sends first; read alone, it kept the operator at the login form
    const ids = cookieValues(c.req.header("cookie"), COOKIE);
    for (const id of ids) {
      const session = await sessions.get(id);
      c.set("sessionId", id);
      c.set("session", session);
      if (session) break;
    }
    await next();
  });

  const html = (body: string, status = 200, headers: Record<string, string> = {}) =>
    new Response(body, { status, headers: { "content-type": "text/html; charset=utf-8", ...headers } });
  const page = (c: { get(k: "session"): Session | undefined; req: { url: string } }) => {
    if (new URL(c.req.url).searchParams.has("token")) {
      return html(loginPage(assets.urls, "The token goes in the form, never in the URL: URLs end up in logs and browser history."), 400);
    }
    const s = c.get("session");
    return s ? html(shellPage(assets.urls, `signed in as ${s.name}`, s.csrf)) : html(loginPage(assets.urls));
  };
  app.get("/", (c) => page(c));
  app.get("", (c) => page(c));

  app.post("/login", async (c) => {
    checkSameOrigin(c.req.raw);
    if (new URL(c.req.url).search !== "") {
      return html(loginPage(assets.urls, "The token goes in the form's body, never in the URL."), 400);
    }
    const form = await formBody(c.env.ex);
    const token = (form.get("token") ?? "").trim();
    let name: string;
    try {
      name = await o.auth.checkCaller(`Bearer ${token}`, c.env.ex, "the console");
    } catch (e) {
      if (e instanceof LanesError && e.code === "rate_limited") return html(loginPage(assets.urls, e.message), 429, e.headers);
      if (e instanceof LanesError && e.code === "unauthorized") return html(loginPage(assets.urls, "That token is not valid on this host."), 401);
      throw e;
    }
    const { id } = await sessions.create(name);
    setCookie(c, COOKIE, id, { path: BASE, httpOnly: true, secure: overHttps(c.req.raw), sameSite: "Strict", maxAge: sessions.maxAgeSeconds });
    return c.redirect(`${BASE}/`, 303);
  });

  app.post("/logout", async (c) => {
    checkSameOrigin(c.req.raw);
    const s = c.get("session");
    const form = await formBody(c.env.ex);
    if (s && sameSecret(form.get("csrf") ?? "", s.csrf)) await sessions.delete(c.get("sessionId"));
    else if (s) throw new LanesError("forbidden", "logout: the form's csrf field does not match the session");
    setCookie(c, COOKIE, "", { path: BASE, httpOnly: true, secure: overHttps(c.req.raw), sameSite: "Strict", maxAge: 0 });
    return c.redirect(`${BASE}/`, 303);
  });

  app.get("/assets/:name", (c) => {
    const asset = assets.byName.get(c.req.param("name"));
    if (!asset || (!asset.public && !c.get("session"))) {
      throw asset ? needSession() : new LanesError("not_found", `no console asset ${c.req.param("name")}`);
    }
    const fresh = c.req.query("v") === asset.hash;
    return new Response(asset.bytes, {
      headers: { "content-type": asset.type, "cache-control": fresh ? "private, max-age=31536000, immutable" : "no-cache" },
    });
  });

  app.use("/api/*", async (c, next) => {
    if (!c.get("session")) throw needSession();
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      checkSameOrigin(c.req.raw);
      if (!sameSecret(c.req.header("x-lanes-csrf") ?? "", c.get("session")!.csrf)) {
        throw new LanesError("forbidden", "x-lanes-csrf: missing or not this session's token (reload the console)");
      }
    }
    await next();
  });
  app.route("/api", consoleApi({ ...o, streams, sessions }));
  const methods = { "": "GET, HEAD", "/": "GET, HEAD", "/login": "POST", "/logout": "POST", "/assets/:name": "GET, HEAD" };
  for (const [path, allow] of Object.entries(methods)) otherMethods(app, path, allow);

  app.notFound((c) => errorResponse(new LanesError("not_found", `no console page ${c.req.path}`), c.get("requestId")));
  app.onError((err, c) => errorResponse(err, c.get("requestId") ?? crypto.randomUUID()));
  return {
    handle: (request, ex) => app.fetch(request, { ex }),
    stop: () => streams.stop(),
  };
}

function needSession(): LanesError {
  return new LanesError("unauthorized", "the console needs a session: log in at /_lanes/ui");
}

/** An application/x-www-form-urlencoded body of at most FORM_BYTES. */
async function formBody(ex: Exchange): Promise<URLSearchParams> {
  const bytes = await readBody(ex, FORM_BYTES, "console form", Date.now() + 10_000);
  return new URLSearchParams(bytes ? new TextDecoder().decode(bytes) : "");
}
