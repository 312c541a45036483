/** The deploy rules that do not depend on the host runtime: paths, auto-rollback, rollback targets, tokens. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { judge, MIN_REQUESTS } from "../runtime/deploy/auto-rollback.ts";
import { decodeBase64, encodeBase64 } from "../runtime/deploy/base64.ts";
import { grantedFolders } from "../runtime/deploy/granted.ts";
import { previousVersion, type Deployment } from "../runtime/deploy/model.ts";
import { parseUpload, pathProblem } from "../runtime/deploy/upload.ts";
import { AdminAuth, isLoopback, parseTokens } from "../runtime/host/admin-auth.ts";

test("a version's paths stay inside its folder", () => {
  for (const ok of ["lanes.json", "bundles/a.mjs", "a/b/c-d_e.f@1+2.ts"]) assert.is(pathProblem(ok), undefined, ok);
  const refused: [unknown, RegExp][] = [
    ["../x", /stay inside/],
    ["a/./b", /stay inside/],
    ["/abs", /relative/],
    ["C:/x", /relative/],
    ["a\\b", /backslash/],
    ["a//b", /empty segment/],
    ["a/", /empty segment/],
    [".env", /must not start with a dot/],
    ["a\u0000b", /control characters/],
    ["x".repeat(201), /at most 200/],
    ["", /non-empty/],
    [42, /non-empty/],
  ];
  for (const [p, rule] of refused) assert.match(pathProblem(p) ?? "", rule, JSON.stringify(p));
});

test("an upload with a file that is also a folder, or without a manifest, is refused", () => {
  const b64 = (t: string) => encodeBase64(new TextEncoder().encode(t));
  assert.throws(
    () =>
      parseUpload(
        {
          files: [
            { path: "lanes.json", data: b64("{}") },
            { path: "a", data: "" },
            { path: "a/b", data: "" },
          ],
        },
        1e6,
      ),
    /"a" is both a file and a folder/,
  );
  assert.throws(() => parseUpload({ files: [{ path: "x.ts", data: "" }] }, 1e6), /must hold lanes\.json/);
  assert.throws(() => parseUpload({ files: [{ path: "lanes.json", data: "" }], percent: 0 }, 1e6), /percent: must be an integer from 1 to 100/);
  assert.throws(() => parseUpload({ files: [{ path: "lanes.json", data: "" }], extra: 1 }, 1e6), /extra: unknown field/);
  assert.throws(() => parseUpload({ files: [{ path: "lanes.json", data: b64("x".repeat(100)) }] }, 50), /more than 50 bytes/);
});

test("the host makes, empty, only the granted folders inside the release that no uploaded file makes", () => {
  const read = ["empty", "./also/empty/", "data", "data/sub", "a/../inside", "lanes.json", "x.txt/below"];
  const write = ["../outside", "/etc/lanes", "a/../../outside", ".hidden", "back\\slash", "empty"];
  const manifest = JSON.stringify({ functions: { f: { entry: "f.mjs", permissions: { read, write } }, g: { entry: "g.mjs", permissions: { read: 7 } } } });
  const files = new Map(["lanes.json", "data/x", "x.txt"].map((p) => [p, new TextEncoder().encode(p === "lanes.json" ? manifest : "")]));
  assert.equal(grantedFolders(files).sort(), ["also/empty", "data/sub", "empty", "inside"]);
  assert.equal(grantedFolders(new Map([["lanes.json", new TextEncoder().encode("{not json")]])), []);
});

test("base64 round-trips any bytes and refuses what is not strict base64", () => {
  const bytes = new Uint8Array(100_000).map((_, i) => (i * 7) % 256);
  assert.equal(decodeBase64(encodeBase64(bytes)), bytes);
  for (const bad of ["abc", "ab=c", "a b=", "ab-_", "===="]) assert.is(decodeBase64(bad), undefined, bad);
});

test("auto-rollback: at least 50 requests, more than 10 points worse, and z >= 3", () => {
  assert.not.ok(judge({ requests: 100, errors: 0 }, { requests: MIN_REQUESTS - 1, errors: MIN_REQUESTS - 1 }).rollback, "too few requests");
  assert.not.ok(judge({ requests: 200, errors: 10 }, { requests: 100, errors: 14 }).rollback, "9 points worse");
  assert.not.ok(judge({ requests: 60, errors: 6 }, { requests: 50, errors: 11 }).rollback, "12 points worse, but z < 3");
  assert.ok(judge({ requests: 117, errors: 0 }, { requests: 50, errors: 10 }).rollback, "20% against 0%");
  assert.ok(judge({ requests: 0, errors: 0 }, { requests: 50, errors: 50 }).rollback, "no stable traffic to compare with");
  assert.match(judge({ requests: 117, errors: 0 }, { requests: 50, errors: 10 }).why, /new 10\/50 5xx \(20\.0%\) vs stable 0\/117 \(0\.0%\), z = 5\.0/);
});

test("rollback without a version goes to the stable side of a gradual deployment, else to the last other version at 100%", () => {
  const d = (revision: number, stable: string, canary?: string): Deployment => ({
    revision,
    createdAt: "",
    author: "",
    reason: "deploy",
    message: null,
    stable,
    canary: canary ? { version: canary, percent: 10, changed: [], autoRollback: false } : null,
  });
  const history = [d(4, "v3"), d(3, "v2", "v3"), d(2, "v2"), d(1, "v1")];
  assert.is(previousVersion(d(5, "v3", "v4"), [d(5, "v3", "v4"), ...history]), "v3");
  assert.is(previousVersion(history[0]!, history), "v2");
  assert.is(previousVersion(d(1, "v1"), [d(1, "v1")]), undefined);
});

test("token files: NAME TOKEN or TOKEN per line, at least 16 printable ASCII characters, names once; values never in errors", async () => {
  const tokens = await parseTokens("# comment\n\nci aaaaaaaaaaaaaaaa1\nbbbbbbbbbbbbbbbb2\n", "tokens");
  assert.equal(
    tokens.map((t) => t.name),
    ["ci", "admin"],
  );
  try {
    await parseTokens("ci short-secret\n", "f");
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /^f:1: a token must be at least 16 characters long/);
    assert.not.match((e as Error).message, /short-secret/);
  }
  assert.is((await parseTokens("a xxxxxxxxxxxxxxxx\r\nb yyyyyyyyyyyyyyyy", "f")).length, 2, "CRLF lines too");
  // one no client can send: fetch refuses the header, curl's UTF-8 bytes never match it
  for (const value of ["ключ-ключ-ключ-ключ-1234", "aaaaaaaaaaaaaaaa\u0001", "aaaaaaaaaaaaaaaa\u00e9"]) {
    try {
      await parseTokens(`ci ${value}\n`, "f");
      assert.unreachable(JSON.stringify(value));
    } catch (e) {
      assert.is((e as Error).message, "f:1: a token may hold only printable ASCII characters, no spaces (it travels in an HTTP header; try: openssl rand -hex 32)");
    }
  }
});

test("wrong tokens from one address are slowed with 429; other addresses are not", async () => {
  const auth = new AdminAuth(await parseTokens("ci aaaaaaaaaaaaaaaa1", "t"), { maxFailures: 3, windowMs: 60_000, blockMs: 200, maxBlockMs: 1000, maxAddresses: 2 });
  const attempt = (token: string, addr: string) =>
    auth.check(`Bearer ${token}`, addr, "x").then(
      (name) => name,
      (e: { status: number }) => e.status,
    );
  assert.equal([await attempt("nope-nope-nope-nope", "a"), await attempt("nope-nope-nope-nope", "a"), await attempt("nope-nope-nope-nope", "a")], [401, 401, 401]);
  assert.is(await attempt("aaaaaaaaaaaaaaaa1", "a"), 429);
  assert.is(await attempt("aaaaaaaaaaaaaaaa1", "b"), "ci");
  await new Promise((r) => setTimeout(r, 250));
  assert.is(await attempt("aaaaaaaaaaaaaaaa1", "a"), "ci");
});

test("loopback addresses", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) assert.ok(isLoopback(h), h);
  for (const h of ["0.0.0.0", "::", "10.0.0.5", "example.com"]) assert.not.ok(isLoopback(h), h);
});

test.run();
