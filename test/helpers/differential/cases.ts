/**
 * The differential suite's cases: one request each to the fixture test/fixtures/fns/fidelity.ts
 * (which answers by the case name in its path). Statuses are generated: every status from 200 to
 * 599 with a reason phrase of its own.
 */
import { Buffer } from "node:buffer";
import type { RequestSpec } from "./raw-client.ts";
import { patterned } from "../bytes.ts";

export interface Case {
  name: string;
  spec: RequestSpec;
  /**
   * The function answers a string body and leaves its Content-Type at the Fetch standard's
   * default, text/plain;charset=UTF-8. Bun's Response does not list that header (Bun adds it in
   * Bun.serve only, oven-sh/bun#8530), so for these cases the oracle on Bun expects the standard's.
   */
  stringDefaultType?: boolean;
}

const latin1 = (s: string) => Buffer.from(s, "utf8").toString("latin1");
const allBytes = () => new Uint8Array(256).map((_, i) => i);

/** Responders of the fixture that take no argument, and whether their body is a string with the default type. */
const RESPONDERS: Record<string, boolean> = {
  text: true,
  "text-empty": true,
  "text-unicode": true,
  "text-typed": false,
  "text-type-deleted": false,
  "text-type-set-later": false,
  "json-string": false,
  "response-json": false,
  "response-json-init": false,
  "response-json-typed": false,
  "redirect-default": false,
  "redirect-unicode": false,
  error: false,
  "array-buffer": false,
  uint8: false,
  "uint8-view": false,
  "response-identity": false,
  subclass: true,
  "status-wraps": true,
  "reason-via-getter": true,
  int16: false,
  float64: false,
  "data-view": false,
  "uint8-empty": false,
  "uint8-typed": false,
  "blob-typed": false,
  "blob-untyped": false,
  "blob-parts": false,
  file: false,
  "form-data": false,
  "url-search-params": false,
  "stream-one": false,
  "stream-many": false,
  "stream-empty": false,
  "stream-late": false,
  "stream-typed": false,
  "stream-broken": false,
  null: false,
  "null-typed": false,
  "no-args": false,
  "header-repeat": true,
  cookies: false,
  "header-pairs": true,
  "header-case": true,
  "header-latin1": true,
  "header-utf8-bytes": true,
  "header-whitespace": true,
  "header-empty": true,
  "header-many": true,
  "header-long": true,
  "header-mutated": true,
  "framing-forged-length": true,
  "framing-long-length": true,
  "framing-chunked": true,
  "framing-hop-by-hop": true,
  "bad-status-low": true,
  "bad-status-high": true,
  "bad-init": true,
  "bad-null-body-status": true,
  "bad-header-name": true,
  "bad-header-value": true,
  "bad-status-text": true,
  "bad-redirect-status": false,
  "bad-redirect-url": false,
  "bad-immutable-headers": false,
  "bad-json": false,
  "bad-body-used": false,
  "hono-on-error": false,
  "returns-undefined": false,
  "returns-object": false,
  "returns-string": false,
  "wait-until": true,
};

/** Statuses whose standard reason phrase every host's server sends when the function gives none. */
const DEFAULT_TEXT_STATUSES = [200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 409, 500, 502, 503];

/** A reason phrase of its own for each status; some with a tab or latin1 text (obs-text). */
function reasonFor(code: number): string {
  if (code % 7 === 0) return `Tr\u00e8s bien ${code}`;
  if (code % 11 === 0) return `Tab\tseparated ${code}`;
  return `Custom reason ${code}`;
}

const get = (target: string, headers: [string, string][] = []): RequestSpec => ({ method: "GET", target, headers });
const post = (method: string, target: string, contentType: string | undefined, body: Uint8Array | string): RequestSpec => ({
  method,
  target,
  headers: contentType ? [["content-type", contentType]] : [],
  body: typeof body === "string" ? new TextEncoder().encode(body) : body,
});

function multipart(): { type: string; body: Uint8Array } {
  const b = "----lanesFixedBoundary7MA4YWxkTrZu0gW";
  const text =
    `--${b}\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue one\r\n` +
    `--${b}\r\nContent-Disposition: form-data; name="field"\r\n\r\nZo\u00eb second\r\n` +
    `--${b}\r\nContent-Disposition: form-data; name="upload"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nfile text\nline two\r\n` +
    `--${b}--\r\n`;
  return { type: `multipart/form-data; boundary=${b}`, body: new TextEncoder().encode(text) };
}

/** Every case, with targets under `route` (e.g. "/fid-isolate"). */
export function differentialCases(route: string): Case[] {
  const cases: Case[] = [];
  const add = (name: string, spec: RequestSpec, stringDefaultType = false) => cases.push({ name, spec, stringDefaultType });

  for (const [name, stringDefault] of Object.entries(RESPONDERS)) add(name, get(`${route}/${name}`), stringDefault);
  for (const code of [301, 302, 303, 307, 308]) add(`redirect ${code}`, get(`${route}/redirect/${code}`));
  for (let code = 200; code <= 599; code++) {
    const nullBody = code === 204 || code === 205 || code === 304;
    add(`status ${code} "${reasonFor(code)}"`, get(`${route}/status/${code}/${encodeURIComponent(reasonFor(code))}`), !nullBody);
  }
  for (const code of DEFAULT_TEXT_STATUSES) {
    add(`status ${code} with no status text`, get(`${route}/status/${code}`), code !== 204 && code !== 304);
  }
  for (const name of ["text", "response-json", "uint8", "stream-many", "form-data", "header-repeat", "cookies", "null"]) {
    add(`HEAD ${name}`, { ...get(`${route}/${name}`), method: "HEAD" }, RESPONDERS[name]);
  }
  add("HEAD status 404", { ...get(`${route}/status/404/Gone%20Fishing`), method: "HEAD" }, true);

  // what a request looks like to the function
  const echo = `${route}/echo`;
  add(
    "GET with query, custom header",
    get(`${echo}/meta?q=caf%C3%A9&empty=&plus=a+b&amp=%26&q=2`, [
      ["x-custom", "v1"],
      ["accept", "*/*"],
    ]),
  );
  add("GET a non-ASCII path", get(`${echo}/meta/caf%C3%A9/%E6%97%A5%E6%9C%AC%20x`));
  add("GET a latin1 header value", get(`${echo}/meta`, [["x-custom", "caf\u00e9"]]));
  add("GET a UTF-8 header value", get(`${echo}/meta`, [["x-custom", latin1("日本 ✓")]]));
  add(
    "GET repeated request headers and a cookie",
    get(`${echo}/meta`, [
      ["x-multi", "a"],
      ["x-multi", "b"],
      ["cookie", "a=1; b=2"],
      ["X-Mixed-Case", "v"],
    ]),
  );
  add("POST text()", post("POST", `${echo}/text`, "text/plain;charset=UTF-8", "héllo ✓ 日本"));
  add("POST text() with no content-type", post("POST", `${echo}/text`, undefined, "untyped"));
  add("POST an empty body", post("POST", `${echo}/text`, "text/plain", ""));
  add("POST json()", post("POST", `${echo}/json`, "application/json", JSON.stringify({ a: [1, "é"], b: null })));
  add("POST json() of bad JSON throws", post("POST", `${echo}/json`, "application/json", "{not json"));
  add("POST formData() urlencoded", post("POST", `${echo}/form`, "application/x-www-form-urlencoded", "a=1&b=caf%C3%A9&b=2&c=a+b&d="));
  const mp = multipart();
  add("POST formData() multipart", post("POST", `${echo}/form`, mp.type, mp.body));
  add("POST formData() of a non-form body throws", post("POST", `${echo}/form`, "text/plain", "not a form"));
  add("POST arrayBuffer() of every byte", post("POST", `${echo}/bytes`, "application/octet-stream", allBytes()));
  add("POST read as a stream", post("POST", `${echo}/stream`, "application/octet-stream", patterned(70_000, 0, 7)));
  add("PUT arrayBuffer()", post("PUT", `${echo}/bytes`, "application/octet-stream", allBytes().subarray(0, 16)));
  add("PATCH json()", post("PATCH", `${echo}/json`, "application/merge-patch+json", '{"op":"x"}'));
  add("DELETE with no body", { method: "DELETE", target: `${echo}/meta`, headers: [] });
  add("DELETE with a body", post("DELETE", `${echo}/text`, "text/plain", "why"));
  add("OPTIONS", { method: "OPTIONS", target: `${echo}/meta`, headers: [["access-control-request-method", "PUT"]] });
  add("HEAD echo", { method: "HEAD", target: `${echo}/meta`, headers: [["x-custom", "head"]] });
  add("the request is a Request, with a live signal", get(`${echo}/identity`));
  add("POST the request is a Request, with a live signal", post("POST", `${echo}/identity`, "text/plain", "x"));
  add("request.clone() reads the same body", post("POST", `${echo}/clone`, "text/plain", "cloned ✓"));
  add("new Request(request, init) keeps the body and takes the new headers", post("PUT", `${echo}/rewrap`, "application/json", '{"a":1}'));
  add("GET new Request(request, init)", get(`${echo}/rewrap`));
  add("a subclass of Request made from the request", post("PATCH", `${echo}/subclass`, "text/plain", "sub ✓"));
  add("Request.prototype.text called on the request", post("POST", `${echo}/proto-text`, "text/plain", "by the prototype"));
  add("headers set by the function show in a clone", post("POST", `${echo}/headers-then-body`, "text/plain", "with a header"));
  add("a body read twice fails the second time", post("POST", `${echo}/read-twice`, "text/plain", "once"));
  // the body read before anything else of the request (lanes answers that from the bytes it has)
  const first = `${route}/body-first`;
  add("text() first, then the rest of the request", post("POST", `${first}/text`, "text/plain;charset=UTF-8", "\ufeffhéllo ✓ 日本"));
  add("text() first of bytes that are not UTF-8", post("POST", `${first}/text`, "text/plain", new Uint8Array([0x68, 0xff, 0xfe, 0xc3, 0x28, 0x69])));
  add("arrayBuffer() first, then the rest", post("POST", `${first}/bytes`, "application/octet-stream", allBytes()));
  add("arrayBuffer() first of an empty body", post("POST", `${first}/bytes`, "application/octet-stream", ""));
  add("arrayBuffer() first of 100,000 bytes, then the rest", post("POST", `${first}/large`, "application/octet-stream", patterned(100_000, 0, 13, 251)));
  add("json() first, then the rest", post("PATCH", `${first}/json`, "application/json", '\ufeff{"a":[1,"é"],"b":null}'));
  add("json() first of bad JSON", post("POST", `${first}/json`, "application/json", "{not json"));
  add("Request.prototype.text first", post("POST", `${first}/proto`, "text/plain", "by the prototype"));
  add("GET: the missing body read first", get(`${first}/text`, [["x-custom", "no body"]]));
  return cases;
}
