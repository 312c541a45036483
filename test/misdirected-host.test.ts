/**
 * DNS rebinding against a host on loopback: a page on evil.example whose name now resolves to
 * 127.0.0.1 reaches the host from the operator's browser with `Host: evil.example:PORT`. lanes'
 * own routes must refuse it (403) before a token is read or counted; a function's routes, the
 * host's loopback names and a trusted proxy's requests answer as before.
 */
import http from "node:http";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { trustedProxies } from "../runtime/host/client-address.ts";
import { inProcessDeployHost, TOKEN, versionDir } from "./helpers/deploy.ts";
import { startTestHost } from "./helpers/host.ts";
import { reverseProxy } from "./helpers/reverse-proxy.ts";

interface Answer {
  status: number;
  body: string;
}

/** GET (or `method`) `path` on the server at `url`, with the Host header `host` (fetch cannot set it). */
function send(url: string, path: string, host: string, headers: Record<string, string> = {}, method = "GET"): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path, method, headers: { ...headers, host }, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const OWN = ["/_lanes/metrics", "/_lanes/functions", "/_lanes/api/versions", "/_lanes/ui", "/_lanes/health"];

function assertMisdirected(a: Answer, what: string): void {
  assert.is(a.status, 403, `${what}: ${a.body}`);
  const body = JSON.parse(a.body) as { error: { code: string; message: string } };
  assert.is(body.error.code, "forbidden");
  assert.match(body.error.message, /loopback address.*DNS rebinding/);
}

test("a deploy host on loopback refuses lanes' own routes to another Host and answers its loopback names", async () => {
  const d = await inProcessDeployHost({ dir: versionDir("v1") });
  const url = d.host.url;
  const port = new URL(url).port;
  try {
    for (const path of OWN) assertMisdirected(await send(url, path, `evil.example:${port}`, bearer(TOKEN)), path);
    // not even with the right token: the page would be evil.example's to read
    assertMisdirected(await send(url, "/_lanes/metrics", "evil.example", bearer(TOKEN)), "no port");
    // a function's routes are the function's: it decides what a Host means
    const fn = await send(url, "/greet", `evil.example:${port}`);
    assert.is(fn.status, 200, fn.body);
    assert.is(fn.body, "v1");
    for (const name of [`localhost:${port}`, "localhost", `127.0.0.1:${port}`, `127.9.8.7:${port}`, `[::1]:${port}`, `admin.localhost:${port}`, "LocalHost"]) {
      const api = await send(url, "/_lanes/api/versions", name, bearer(TOKEN));
      assert.is(api.status, 200, `${name}: ${api.body}`);
      const metrics = await send(url, "/_lanes/metrics", name);
      assert.is(metrics.status, 200, `${name}: ${metrics.body}`);
      const ui = await send(url, "/_lanes/ui", name);
      assert.is(ui.status, 200, `${name}: ${ui.body.slice(0, 200)}`);
    }
  } finally {
    await d.stop(2000);
  }
});

test("wrong tokens sent under another Host are not counted: the operator on 127.0.0.1 is let in right after", async () => {
  const d = await inProcessDeployHost({ dir: versionDir("v1") });
  const url = d.host.url;
  const port = new URL(url).port;
  try {
    // far more wrong tokens than the throttle takes (5)
    const wrong: Answer[] = [];
    for (let i = 0; i < 12; i++) wrong.push(await send(url, "/_lanes/api/versions", `evil.example:${port}`, bearer(`wrong-token-${i}-000000000000`)));
    const right = await send(url, "/_lanes/api/versions", `127.0.0.1:${port}`, bearer(TOKEN));
    assert.is(right.status, 200, right.body);
    for (const [i, a] of wrong.entries()) assertMisdirected(a, `wrong token ${i}`);
  } finally {
    await d.stop(2000);
  }
});

test("--console-host's name is answered on loopback", async () => {
  const d = await inProcessDeployHost({ dir: versionDir("v1"), consoleHost: "lanes-admin.example.com" });
  const port = new URL(d.host.url).port;
  try {
    const ui = await send(d.host.url, "/_lanes/ui", `lanes-admin.example.com:${port}`);
    assert.is(ui.status, 200, ui.body.slice(0, 200));
    const api = await send(d.host.url, "/_lanes/api/versions", "lanes-admin.example.com", bearer(TOKEN));
    assert.is(api.status, 200, api.body);
    assertMisdirected(await send(d.host.url, "/_lanes/ui", `evil.example:${port}`), "another name");
  } finally {
    await d.stop(2000);
  }
});

test("behind a trusted proxy on loopback that passes on its public Host, lanes' own routes answer", async () => {
  const d = await inProcessDeployHost({ dir: versionDir("v1"), trustedProxies: trustedProxies("127.0.0.1") });
  const proxy = await reverseProxy(d.host.url, { publicName: "lanes.example.com" });
  try {
    const api = await send(proxy.url, "/_lanes/api/versions", "lanes.example.com", bearer(TOKEN));
    assert.is(api.status, 200, api.body);
    const ui = await send(proxy.url, "/_lanes/ui", "lanes.example.com");
    assert.is(ui.status, 200, ui.body.slice(0, 200));
    // the same Host straight from a browser on this machine (no X-Forwarded-For) is a rebinding page's
    assertMisdirected(await send(d.host.url, "/_lanes/api/versions", "lanes.example.com", bearer(TOKEN)), "no proxy");
  } finally {
    await proxy.close();
    await d.stop(2000);
  }
});

test("a host on loopback without a token keeps its metrics and function list from another Host", async () => {
  const h = await startTestHost({ hello: { entry: "hello.ts", lane: "isolate" } }, { extraFiles: { "hello.ts": `export default { fetch: () => new Response("hello") };\n` } });
  const port = new URL(h.url).port;
  try {
    assertMisdirected(await send(h.url, "/_lanes/metrics", `evil.example:${port}`), "metrics");
    assertMisdirected(await send(h.url, "/_lanes/functions", `evil.example:${port}`), "functions");
    const fn = await send(h.url, "/hello", `evil.example:${port}`);
    assert.is(fn.status, 200, fn.body);
    for (const name of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `fn.localhost:${port}`]) {
      const metrics = await send(h.url, "/_lanes/functions", name);
      assert.is(metrics.status, 200, `${name}: ${metrics.body}`);
    }
  } finally {
    await h.stop();
  }
});

test.run();
