/**
 * Whose request it is, for the admin token throttle (admin-auth.ts). Behind a reverse proxy every
 * client arrives from the proxy's address, so a stranger's wrong tokens would block the operator
 * too. `--trust-proxy ADDR[,ADDR...]` (addresses or CIDR ranges) names the proxies: a request
 * from one of them is counted for the address its `X-Forwarded-For` gives, the last one in it
 * that is not a trusted proxy (each proxy appends the address it was reached from, so the ones
 * before it are the client's to write and prove nothing), as nginx's `real_ip_recursive` and
 * Express's `trust proxy` read it. A request from any other address is counted for that address,
 * whatever it sends.
 *
 * What is counted is a key, not the address as written: an IPv6 client counts for its /64 (one
 * machine or home network is handed a whole /64, so rotating addresses inside it escaped the
 * throttle: 8 wrong tokens from 8 addresses of one /64 got 401 each, never 429), an IPv4 one
 * (also written IPv4-mapped, `::ffff:a.b.c.d`) for its address. An IPv6 address may end in
 * dotted IPv4 (RFC 4291 2.2, form 3: `64:ff9b::192.0.2.1`, `::1.2.3.4`, `2001:db8::192.0.2.1`):
 * unread, it named nobody, so every client written so counted for the proxy, and one of them
 * guessing tokens got the proxy's other clients a 429. One in the NAT64 well-known prefix
 * `64:ff9b::/96` (RFC 6052) is an IPv4 client translated, and counts for that IPv4 address, as it
 * would reaching the host over IPv4: its /64 holds every IPv4 client the translator hands on, and
 * one of them would block them all. A hop that carries a port
 * (`1.2.3.4:5678`, `[2001:db8::1]:443`, as Azure's and some Ingresses' proxies write it) counts
 * without it: otherwise each port was a client of its own. A hop that is no address at all (a
 * proxy's "unknown", or garbage a misconfigured proxy passed on) names nobody: the request counts
 * for the hop that handed it on (the proxy), so garbage can neither crash nor bypass the throttle.
 */
import { LanesError } from "../errors.ts";

/** One address or range: its bytes (4 for IPv4, 16 for IPv6) and how many leading bits must match. */
interface Range {
  bytes: Uint8Array;
  bits: number;
}

export interface TrustedProxies {
  has(address: string): boolean;
  /** The entries as written that trust a range so wide that it must hold clients too (see wideRanges). */
  wide?: string[];
}

export const NO_PROXY: TrustedProxies = { has: () => false };

/**
 * Ranges no proxy set-up needs, whose every address may write X-Forwarded-For: wider than a /8
 * of IPv4 (0.0.0.0/0, 0.0.0.0/1, ...) or a /16 of IPv6 (::/0, 2000::/3, ...) other than private
 * space (fc00::/7, fe80::/10). A cloud's published proxy ranges are narrower (Cloudflare's widest:
 * 104.16.0.0/13, 2a06:98c0::/29), as is any private network (10.0.0.0/8, fd00::/8).
 */
const PRIVATE_V6: Range[] = [
  { bytes: Uint8Array.of(0xfc, ...new Uint8Array(15)), bits: 7 },
  { bytes: Uint8Array.of(0xfe, 0x80, ...new Uint8Array(14)), bits: 10 },
];

function isWide(r: Range): boolean {
  if (r.bytes.length === 4) return r.bits < 8;
  return r.bits < 16 && !PRIVATE_V6.some((p) => r.bits >= p.bits && samePrefix(p.bytes, r.bytes, p.bits));
}

/** The start-up warning for `--trust-proxy` ranges that trust clients too, or undefined. */
export function wideRangesWarning(trusted: TrustedProxies, flag = "--trust-proxy"): string | undefined {
  if (!trusted.wide?.length) return undefined;
  return `${flag} ${trusted.wide.join(",")} trusts nearly every address, clients included: any client in it can write X-Forwarded-For and be counted for whatever address it names, so the admin token throttle no longer holds back a client guessing tokens; name only your reverse proxies' addresses or their own range (e.g. 10.0.0.0/8)`;
}

/** Parses `--trust-proxy`'s list; a bad entry is an error naming it. */
export function trustedProxies(list: string, flag = "--trust-proxy"): TrustedProxies {
  const ranges: Range[] = [];
  const wide: string[] = [];
  for (const entry of list.split(",").map((s) => s.trim())) {
    const [written, prefix, ...rest] = entry.split("/");
    // an IPv4-mapped address (how a dual-stack host names its IPv4 peers) is the IPv4 one, its range counted in IPv4 bits
    const addr = written === undefined ? undefined : unmapped(written);
    const less = addr !== written ? 96 : 0;
    const bytes = addr === undefined ? undefined : ipBytes(addr);
    const max = bytes ? bytes.length * 8 : 0;
    const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) - less : -1;
    if (!bytes || rest.length > 0 || bits < 0 || bits > max) {
      throw new LanesError("invalid_flag", `${flag}: ${JSON.stringify(entry)} is not an IP address or a CIDR range (e.g. 10.0.0.5, 10.0.0.0/8, fd00::/8)`);
    }
    ranges.push({ bytes, bits });
    if (isWide({ bytes, bits })) wide.push(entry);
  }
  return { has: (address) => inRanges(ranges, address), wide };
}

/** The key to count a request for: the peer's, or behind trusted proxies the client's they name (see above). */
export function clientAddress(peer: string, forwardedFor: string | undefined, trusted: TrustedProxies): string {
  const from = unmapped(peer);
  if (forwardedFor === undefined || !trusted.has(from)) return throttleKey(from);
  const hops = forwardedFor
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  // whom the hop being read was handed on by: the peer, then each trusted proxy to its right
  let by = from;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hopAddress(hops[i]!);
    if (hop === undefined) return throttleKey(by);
    if (i === 0 || !trusted.has(hop)) return throttleKey(hop);
    by = hop;
  }
  return throttleKey(from);
}

/** One X-Forwarded-For entry as an address (IPv4-mapped as IPv4, without a port or a zone), or undefined when it is none. */
function hopAddress(entry: string): string | undefined {
  const bracketed = /^\[([^\]]*)\](?::\d{1,5})?$/.exec(entry);
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(entry);
  const address = unmapped((bracketed?.[1] ?? v4port?.[1] ?? entry).replace(/%[^%]*$/, ""));
  return ipBytes(address) ? address : undefined;
}

/**
 * IPv6 prefixes whose addresses are IPv4 ones, in the last 32 bits: NAT64's well-known prefix
 * (RFC 6052 2.1), and IPv4-mapped written in a way unmapped() does not read (`0:0:0:0:0:ffff:a.b.c.d`).
 */
const IPV4_IN_V6: Range[] = [
  { bytes: Uint8Array.of(0, 0x64, 0xff, 0x9b, ...new Uint8Array(12)), bits: 96 },
  { bytes: Uint8Array.of(...new Uint8Array(10), 0xff, 0xff, 0, 0, 0, 0), bits: 96 },
];

/**
 * What the throttle counts `address` (unmapped) for: an IPv4 address itself (also one NAT64
 * embeds), an IPv6 address its /64 (`2001:db8:0:7::/64`), anything else (a peer a runtime names
 * oddly) as it is, cut short.
 */
export function throttleKey(address: string): string {
  const bytes = ipBytes(address);
  if (!bytes || bytes.length === 4) return bytes ? address : address.slice(0, 64);
  if (IPV4_IN_V6.some((r) => samePrefix(r.bytes, bytes, r.bits))) return bytes.slice(12).join(".");
  const groups: string[] = [];
  for (let i = 0; i < 8; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return `${groups.join(":")}::/64`;
}

function inRanges(ranges: Range[], address: string): boolean {
  const bytes = ipBytes(unmapped(address));
  if (!bytes) return false;
  return ranges.some((r) => r.bytes.length === bytes.length && samePrefix(r.bytes, bytes, r.bits));
}

function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a[i]! & mask) !== (b[i]! & mask)) return false;
  }
  return true;
}

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.5`, how Node names IPv4 peers of a dual-stack socket) as IPv4. */
export function unmapped(address: string): string {
  const a = address.replace(/^\[|\]$/g, "");
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(a) ? a.slice(7) : a;
}

function ipBytes(text: string): Uint8Array | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const parts = text.split(".").map(Number);
    return parts.every((p) => p <= 255) ? new Uint8Array(parts) : undefined;
  }
  // form 3 of RFC 4291 2.2: the last 32 bits in dotted IPv4, read as the two groups they are
  const dotted = /^([0-9a-fA-F:]*:)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (dotted) {
    const v4 = ipBytes(dotted[2]!);
    return v4 && ipBytes(`${dotted[1]}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`);
  }
  if (!/^[0-9a-fA-F:]+$/.test(text) || text.length > 39) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 2 ? missing < 1 : missing !== 0) || [...head, ...tail].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    const n = Number.parseInt(g, 16);
    bytes[i * 2] = n >> 8;
    bytes[i * 2 + 1] = n & 0xff;
  });
  return bytes;
}
