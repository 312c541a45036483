/** For the console suites: logging in as a browser would, calling the console with a session, hosts on each runtime. */
import { fileURLToPath } from "node:url";
import { hostEnvironment } from "../../adapters/env.ts";
import { cliEntry, nodeBin } from "./cli.ts";
import { listeningUrl } from "./deploy.ts";
import { spawnProcess } from "./spawn.ts";

export interface Login {
  /** `lanes_console=...`, as the browser sends it back. */
  cookie: string;
  /** The Set-Cookie header the host sent. */
  setCookie: string;
  /** The session's CSRF token, from the console page's meta tag. */
  csrf: string;
}

/** Post the login form from the console's own origin; throws unless it gives a session. */
export async function login(url: string, token: string): Promise<Login> {
  const res = await postForm(url, "/_lanes/ui/login", { token });
  const setCookie = res.headers.get("set-cookie") ?? "";
  if (res.status !== 303 || !setCookie) throw new Error(`login: ${res.status} ${await res.text()}`);
  const cookie = setCookie.split(";")[0]!;
  const page = await (await fetch(`${url}/_lanes/ui`, { headers: { cookie } })).text();
  const csrf = /<meta name="lanes-csrf" content="([^"]+)">/.exec(page)?.[1];
  if (!csrf) throw new Error(`login: no CSRF token in the console page:\n${page}`);
  return { cookie, setCookie, csrf };
}

/** A form post as the browser sends it from a page of `url` (Origin and Sec-Fetch-Site say so), unless `headers` say otherwise. */
export function postForm(url: string, path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url + path, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: url, "sec-fetch-site": "same-origin", ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

/** A console API call with the session (`as`), from the console's origin, with its CSRF token; `headers` override any of it. */
export function ui(url: string, method: "GET" | "POST", path: string, as: Login | null, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  const base: Record<string, string> = as ? { cookie: as.cookie } : {};
  if (method === "POST") Object.assign(base, { origin: url, "sec-fetch-site": "same-origin", "content-type": "application/json", ...(as ? { "x-lanes-csrf": as.csrf } : {}) });
  const merged = Object.fromEntries(Object.entries({ ...base, ...headers }).filter(([, v]) => v !== ""));
  return fetch(`${url}/_lanes/ui/api/${path}`, { method, headers: merged, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
}

/** The command that runs `lanes ARGS` with the host on `runtime`, whatever runtime runs the test. */
export function cliOn(runtime: "node" | "bun" | "deno", args: string[]): [string, string[]] {
  const bin = (name: string) => fileURLToPath(new URL(`../../node_modules/.bin/${name}`, import.meta.url));
  switch (runtime) {
    case "node":
      return [process.execPath, [nodeBin, ...args]];
    case "bun":
      return [bin("bun"), [cliEntry, ...args]];
    case "deno":
      return [bin("deno"), ["run", "-A", cliEntry, ...args]];
  }
}

export interface HostProcess {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** `lanes start ARGS --port PORT` (0: a free one) on `runtime`, once it prints its listening line. */
export async function startHostOn(runtime: "node" | "bun" | "deno", args: string[], port = 0): Promise<HostProcess> {
  const [cmd, argv] = cliOn(runtime, ["start", ...args, "--port", String(port)]);
  const child = spawnProcess(cmd, argv, { ...hostEnvironment(runtime), NO_COLOR: "1" });
  let out = "";
  child.onOutput((t) => (out += t));
  const url = await listeningUrl(child, () => out, `${runtime} host`);
  return {
    url,
    output: () => out,
    async stop() {
      child.kill("SIGTERM");
      const late = setTimeout(() => child.kill("SIGKILL"), 8000);
      await child.exited;
      clearTimeout(late);
    },
  };
}
