/**
 * The admin token throttle behind a reverse proxy, through a real one (an HTTP proxy in this
 * process that appends the client's address to X-Forwarded-For, as nginx's
 * `$proxy_add_x_forwarded_for` does): a stranger sending wrong tokens must not get the operator
 * refused. Clients come from addresses of their own (127.0.0.2, 127.0.0.3: all of 127/8 is
 * loopback on Linux), the proxy reaches the host from 127.0.0.1.
 */
import http from "node:http";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { clientAddress, trustedProxies } from "../runtime/host/client-address.ts";
import { runCli, scratchDir, startStoreHost, TOKEN, tokenFile, versionDir, type StoreHost } from "./helpers/deploy.ts";
import { reverseProxy } from "./helpers/reverse-proxy.ts";

const STRANGER = "127.0.0.2";
const OPERATOR = "127.0.0.3";

interface Answer {
  status: number;
  body: string;
}

/** A request from `from` (its source address) to `url`. */
function send(url: string, from: string, o: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: o.method ?? "GET", headers: o.headers ?? {}, localAddress: from, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end(o.body);
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * A version of one isolate function: the throttle is the admin API's, and versionDir's other two
 * (a second isolate, a process-lane child with its warm spare) only cost each host's start CPU.
 */
const adminOnly = (marker: string) =>
  versionDir(marker, "ok", (m) => {
    m.functions = { steady: { entry: "steady.ts", lane: "isolate" } };
  });

/** Six wrong tokens from the stranger through the proxy, one claiming to come from the operator's address. */
async function strangerTries(proxy: string): Promise<number[]> {
  const codes: number[] = [];
  for (let i = 0; i < 6; i++) {
    const headers = { ...bearer(`wrong-token-${i}-0000000000000`), ...(i % 2 === 0 ? { "x-forwarded-for": OPERATOR } : {}) };
    codes.push((await send(`${proxy}/_lanes/api/versions`, STRANGER, { headers })).status);
  }
  return codes;
}

async function withProxiedHost(extra: string[], body: (proxy: string, host: StoreHost) => Promise<void>): Promise<void> {
  const host = await startStoreHost(adminOnly("throttle"), join(scratchDir("throttle-"), "store"), ["--admin-token-file", tokenFile(), ...extra]);
  // a host on every address (::) is reached over IPv4 all the same, as a proxy on another machine would
  const proxy = await reverseProxy(host.url.replace("//[::]", "//127.0.0.1"));
  try {
    await body(proxy.url, host);
  } finally {
    await proxy.close();
    await host.stop();
  }
}

test("behind a proxy named by --trust-proxy, a stranger's wrong tokens block the stranger, never the operator", async () => {
  await withProxiedHost(["--trust-proxy", "127.0.0.1"], async (proxy, host) => {
    assert.equal(await strangerTries(proxy), [401, 401, 401, 401, 401, 429]);
    const blocked = await send(`${proxy}/_lanes/api/versions`, STRANGER, { headers: bearer(TOKEN) });
    assert.is(blocked.status, 429, "the stranger stays blocked, a right token included");
    assert.match(blocked.body, new RegExp(`too many wrong tokens from ${STRANGER.replace(/\./g, "\\.")}`));
    assert.match(host.output(), /admin tokens: 5 wrong tokens in a row from 127\.0\.0\.2; it is answered 429 for 1 s/, "the operator's log shows the lock-out");
    // the operator, through the same proxy: the admin API and the console's login
    assert.is((await send(`${proxy}/_lanes/api/versions`, OPERATOR, { headers: bearer(TOKEN) })).status, 200);
    const login = await send(`${proxy}/_lanes/ui/login`, OPERATOR, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: proxy },
      body: `token=${TOKEN}`,
    });
    assert.is(login.status, 303, login.body);
    // a client that reaches the host directly cannot pass for another with the header
    for (let i = 0; i < 6; i++) await send(`${host.url}/_lanes/api/versions`, STRANGER, { headers: { ...bearer(`wrong-direct-${i}-000000000`), "x-forwarded-for": OPERATOR } });
    assert.is((await send(`${host.url}/_lanes/api/versions`, OPERATOR, { headers: bearer(TOKEN) })).status, 200);
  });
});

test("behind a proxy not named, the lock-out is what it was, and the 429 and the log name --trust-proxy", async () => {
  await withProxiedHost([], async (proxy, host) => {
    assert.equal(await strangerTries(proxy), [401, 401, 401, 401, 401, 429]);
    const refused = await send(`${proxy}/_lanes/api/versions`, OPERATOR, { headers: bearer(TOKEN) });
    assert.is(refused.status, 429);
    assert.match(refused.body, /start the host with --trust-proxy 127\.0\.0\.1/);
    assert.match(host.output(), /sends X-Forwarded-For: if 127\.0\.0\.1 is your reverse proxy/);
  });
});

test("on a dual-stack host (--host ::), the 429 names the proxy as --trust-proxy takes it, and that --trust-proxy works", async () => {
  let hint = "";
  await withProxiedHost(["--host", "::"], async (proxy) => {
    assert.equal(await strangerTries(proxy), [401, 401, 401, 401, 401, 429]);
    const refused = await send(`${proxy}/_lanes/api/versions`, OPERATOR, { headers: bearer(TOKEN) });
    hint = /start the host with --trust-proxy (\S+) to count each apart/.exec(refused.body)?.[1] ?? refused.body;
  });
  assert.is(hint, "127.0.0.1");
  // as the host's own peer address has it: ::ffff:127.0.0.1 (and a mapped range) is an IPv4 address too
  for (const named of ["::ffff:127.0.0.1", "::ffff:127.0.0.1/128"]) {
    await withProxiedHost(["--host", "::", "--trust-proxy", named], async (proxy) => {
      assert.equal(await strangerTries(proxy), [401, 401, 401, 401, 401, 429], named);
      assert.is((await send(`${proxy}/_lanes/api/versions`, OPERATOR, { headers: bearer(TOKEN) })).status, 200, named);
    });
  }
});

/** Six wrong tokens from a trusted peer (127.0.0.1), each naming a client in X-Forwarded-For: their statuses, and the last answer. */
async function sixNaming(url: string, clients: string[]): Promise<{ codes: number[]; last: string }> {
  const codes: number[] = [];
  let last = "";
  for (let i = 0; i < 6; i++) {
    const a = await send(`${url}/_lanes/api/versions`, "127.0.0.1", { headers: { ...bearer(`wrong-token-${i}-0000000000000`), "x-forwarded-for": clients[i % clients.length]! } });
    codes.push(a.status);
    last = a.body;
  }
  return { codes, last };
}

test("behind a trusted proxy, an IPv6 client counts for its /64, a client written with a port for its address, garbage for the proxy", async () => {
  const host = await startStoreHost(adminOnly("throttle-keys"), join(scratchDir("throttle-"), "store"), ["--admin-token-file", tokenFile(), "--trust-proxy", "127.0.0.1"]);
  try {
    const url = host.url;
    const blocked = [401, 401, 401, 401, 401, 429];
    // six addresses of one /64: one client, blocked at the sixth, by its /64; the next /64 is not
    const v6 = await sixNaming(url, ["2001:db8:0:7::1", "2001:db8:0:7::2", "2001:db8:0:7:ffff::3", "2001:db8::7:1:2:3:4", "2001:db8:0:7::5", "2001:db8:0:7::6"]);
    assert.equal(v6.codes, blocked, "IPv6 addresses of one /64");
    assert.match(v6.last, /too many wrong tokens from 2001:db8:0:7::\/64/);
    assert.is((await sixNaming(url, ["2001:db8:0:8::1"])).codes[0], 401, "another /64 is another client");
    // a port makes no client of its own, in either family; [v6]:port is that /64
    assert.equal((await sixNaming(url, ["198.51.100.7:1001", "198.51.100.7:1002", "198.51.100.7", "::ffff:198.51.100.7", "198.51.100.7:1005"])).codes, blocked, "IPv4 with ports");
    assert.equal((await sixNaming(url, ["[2001:db8:0:9::1]:443", "[2001:db8:0:9::2]:444", "[2001:db8:0:9::3]"])).codes, blocked, "[IPv6]:port");
    // IPv4-mapped stays one client per IPv4 address: its neighbour is not blocked
    assert.is((await sixNaming(url, ["::ffff:198.51.100.8"])).codes[0], 401, "the next IPv4 address is another client");
    // garbage names nobody: it counts for the proxy that handed it on, whatever it varies
    const junk = await sixNaming(url, ["unknown", "x1", "1.2.3", "[zz]:1", "2001:db8::1::2", "::1:2:3:4:5:6:7:8:9"]);
    assert.equal(junk.codes, blocked, "garbage");
    assert.match(junk.last, /too many wrong tokens from 127\.0\.0\.1/);
  } finally {
    await host.stop();
  }
});

test("behind a trusted proxy, an IPv6 client written with an IPv4 tail is read: NAT64 for its IPv4 address, others for their /64; nobody else is blocked", async () => {
  const host = await startStoreHost(adminOnly("throttle-v4tail"), join(scratchDir("throttle-"), "store"), ["--admin-token-file", tokenFile(), "--trust-proxy", "127.0.0.1"]);
  try {
    const url = host.url;
    const blocked = [401, 401, 401, 401, 401, 429];
    const rightToken = (client?: string) =>
      send(`${url}/_lanes/api/versions`, "127.0.0.1", { headers: { ...bearer(TOKEN), ...(client ? { "x-forwarded-for": client } : {}) } }).then((a) => a.status);
    // one IPv4 client translated by NAT64 (RFC 6052), however it is written, and as itself over IPv4
    const nat64 = await sixNaming(url, ["64:ff9b::203.0.113.5", "64:ff9b::cb00:7105", "[64:ff9b::203.0.113.5]:443", "203.0.113.5", "64:FF9B:0:0:0:0:203.0.113.5"]);
    assert.equal(nat64.codes, blocked, "a NAT64 client");
    assert.match(nat64.last, /too many wrong tokens from 203\.0\.113\.5;/);
    // the translator's other clients, the proxy's own requests and the other forms are not held back
    assert.is(await rightToken("64:ff9b::203.0.113.6"), 200, "another NAT64 client");
    assert.is(await rightToken(), 200, "the proxy itself");
    assert.is(await rightToken("2001:db8:0:a::192.0.2.1"), 200, "an address with an IPv4 tail");
    // any other address with an IPv4 tail is an IPv6 one: its /64
    const tail = await sixNaming(url, ["2001:db8:0:b::192.0.2.1", "2001:db8:0:b::192.0.2.2", "[2001:db8:0:b:1::10.0.0.1]:80"]);
    assert.equal(tail.codes, blocked, "an IPv6 /64 written with IPv4 tails");
    assert.match(tail.last, /too many wrong tokens from 2001:db8:0:b::\/64/);
    assert.equal((await sixNaming(url, ["::198.51.100.9"])).codes, blocked, "::a.b.c.d");
    assert.match((await sixNaming(url, ["::198.51.100.9"])).last, /too many wrong tokens from 0:0:0:0::\/64/);
    assert.is(await rightToken(), 200, "the proxy itself, after all that");
  } finally {
    await host.stop();
  }
});

test("--trust-proxy 0.0.0.0/0 or ::/0 starts with a warning that any client can then pass for another; a proxy's range does not", async () => {
  const wide = await startStoreHost(adminOnly("wide"), join(scratchDir("throttle-"), "store"), ["--admin-token-file", tokenFile(), "--trust-proxy", "10.0.0.0/8,0.0.0.0/0,::/0"]);
  try {
    const warning =
      wide
        .output()
        .split("\n")
        .find((l) => l.includes("--trust-proxy")) ?? wide.output();
    assert.match(warning, /--trust-proxy 0\.0\.0\.0\/0,::\/0 trusts nearly every address, clients included: any client in it can write X-Forwarded-For/);
    assert.match(warning, /the admin token throttle no longer holds back a client guessing tokens/);
    // what it warns of: a client that forges the header is counted for whom it names
    const codes: number[] = [];
    for (let i = 0; i < 6; i++)
      codes.push(
        (await send(`${wide.url}/_lanes/api/versions`, STRANGER, { headers: { ...bearer(`wrong-token-${i}-0000000000000`), "x-forwarded-for": `198.51.100.${i}` } })).status,
      );
    assert.equal(codes, [401, 401, 401, 401, 401, 401]);
  } finally {
    await wide.stop();
  }
  const t = trustedProxies("10.0.0.0/8,fd00::/8,fc00::/7,fe80::/10,104.16.0.0/13,2a06:98c0::/29,203.0.113.7,::1");
  assert.equal(t.wide, [], "private ranges and a cloud's proxy ranges are no warning");
  assert.equal(trustedProxies("0.0.0.0/1,::ffff:0.0.0.0/96,2000::/3,::/0,0.0.0.0/8").wide, ["0.0.0.0/1", "::ffff:0.0.0.0/96", "2000::/3", "::/0"]);
});

test("--trust-proxy takes addresses and CIDR ranges, and refuses anything else naming it", async () => {
  const t = trustedProxies("10.0.0.0/8, 192.168.1.7,fd00::/8,::1");
  assert.ok(t.has("10.200.3.4") && t.has("::ffff:10.0.0.1") && t.has("192.168.1.7") && t.has("fd12::1") && t.has("::1"));
  assert.not.ok(t.has("11.0.0.1") || t.has("192.168.1.8") || t.has("fe80::1") || t.has("not-an-address"));
  // the last address not a trusted proxy: what a client wrote before it proves nothing
  assert.is(clientAddress("10.0.0.5", "1.2.3.4, 203.0.113.9, 10.0.0.9", t), "203.0.113.9");
  assert.is(clientAddress("203.0.113.1", "1.2.3.4", t), "203.0.113.1", "an untrusted peer is counted for itself");
  // keys: an IPv6 client's /64, an address without its port, a hop that is no address as the proxy that handed it on
  assert.is(clientAddress("10.0.0.5", "2001:db8:0:7:1:2:3:4", t), "2001:db8:0:7::/64");
  assert.is(clientAddress("2001:db8:0:7:1:2:3:4", undefined, t), "2001:db8:0:7::/64", "a direct IPv6 peer too");
  assert.is(clientAddress("::ffff:203.0.113.9", undefined, t), "203.0.113.9");
  assert.is(clientAddress("10.0.0.5", "203.0.113.9:5678", t), "203.0.113.9");
  assert.is(clientAddress("10.0.0.5", "[2001:db8::1]:443", t), "2001:db8:0:0::/64");
  assert.is(clientAddress("10.0.0.5", "203.0.113.9, unknown", t), "10.0.0.5", "garbage written by the proxy: the proxy");
  // an IPv4 tail (RFC 4291 2.2 form 3): NAT64's and IPv4-mapped ones are their IPv4 address, others an IPv6 /64
  assert.is(clientAddress("10.0.0.5", "64:ff9b::1.2.3.4", t), "1.2.3.4");
  assert.is(clientAddress("10.0.0.5", "0:0:0:0:0:ffff:1.2.3.4", t), "1.2.3.4");
  assert.is(clientAddress("10.0.0.5", "2001:db8::192.0.2.1", t), "2001:db8:0:0::/64");
  assert.is(clientAddress("10.0.0.5", "1:2:3:4:5:6:1.2.3.4", t), "1:2:3:4::/64");
  for (const bad of ["1:2:3:4:5:6:7:1.2.3.4", ":1.2.3.4", "::1.2.3.256", "::1.2.3", "1.2.3.4::"]) assert.is(clientAddress("10.0.0.5", bad, t), "10.0.0.5", bad);
  assert.is(clientAddress("10.0.0.5", "unknown, 10.0.0.9", t), "10.0.0.9", "garbage behind a trusted hop: that hop");
  const mapped = trustedProxies("::FFFF:10.1.2.3,::ffff:192.168.0.0/112");
  assert.ok(mapped.has("10.1.2.3") && mapped.has("::ffff:10.1.2.3") && mapped.has("192.168.9.9"));
  assert.not.ok(mapped.has("10.1.2.4") || mapped.has("192.169.0.1"));
  for (const bad of ["::ffff:10.0.0.0/95", "::ffff:10.0.0.0/129", "::ffff:10.0.0.256"]) assert.throws(() => trustedProxies(bad), /is not an IP address or a CIDR range/, bad);
  const code = await runCli(["start", adminOnly("flag"), "--port", "0", "--admin-token-file", tokenFile(), "--trust-proxy", "10.0.0.0/33"]);
  assert.is(code.code, 2, code.out);
  assert.match(code.out, /--trust-proxy: "10\.0\.0\.0\/33" is not an IP address or a CIDR range/);
  const alone = await runCli(["start", adminOnly("flag"), "--port", "0", "--trust-proxy", "10.0.0.1"]);
  assert.is(alone.code, 2, alone.out);
  assert.match(alone.out, /--trust-proxy .* there is no admin token/);
});

test.run();
