/**
 * `--store etcd://HOST:PORT[,HOST:PORT...]/PREFIX`: the etcd members to talk to (their client
 * URLs, plain HTTP) and the key prefix every lanes key lives under, so several lanes clusters
 * (or other programs) can share one etcd.
 */
import { LanesError } from "../errors.ts";

export interface EtcdTarget {
  /** As given, for messages. */
  url: string;
  /** `http://HOST:PORT` of each member, in the order given (the first is tried first). */
  endpoints: string[];
  /** `/PREFIX` without a trailing slash, e.g. `/lanes/prod`. */
  prefix: string;
}

const USAGE = "etcd://HOST:PORT[,HOST:PORT...]/PREFIX, e.g. etcd://127.0.0.1:2379/lanes";
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])$/;
const PREFIX_SEGMENT = /^[A-Za-z0-9_.-]+$/;

export function parseEtcdUrl(text: string, flag = "--store"): EtcdTarget {
  // a password in the URL is never repeated (logs of a refused start end up in a pod's log)
  const shown = text.replace(/\/\/[^/@]*@/, "//***@");
  const fail = (why: string) => new LanesError("invalid_flag", `${flag}: ${why} (expected ${USAGE}; got ${JSON.stringify(shown)})`);
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/]*)(\/.*)?$/.exec(text);
  if (!m) throw fail("not a URL");
  const [, scheme, hosts, path] = m;
  if (scheme !== "etcd") {
    throw fail(
      scheme === "etcds" || scheme === "https"
        ? "TLS to etcd is not supported yet; reach etcd over plain HTTP on a private network"
        : `the scheme must be etcd://, not ${scheme}://`,
    );
  }
  if (hosts!.includes("@")) throw fail("user names and passwords in the URL are not supported");
  if (!hosts) throw fail("name at least one etcd member as HOST:PORT");
  const endpoints = hosts!.split(",").map((member) => {
    const at = member.lastIndexOf(":");
    const host = at > 0 ? member.slice(0, at) : member;
    const port = at > 0 ? member.slice(at + 1) : "";
    if (!HOST.test(host)) throw fail(`${JSON.stringify(member)} is not HOST:PORT`);
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
      throw fail(`${JSON.stringify(member)} needs a port from 1 to 65535 (etcd's client port is usually 2379)`);
    }
    return `http://${host}:${Number(port)}`;
  });
  if (new Set(endpoints).size !== endpoints.length) throw fail("an etcd member is named twice");
  const prefix = (path ?? "").replace(/\/+$/, "");
  if (prefix === "") throw fail("give a key prefix after the members, such as /lanes, so lanes' keys stay apart from others'");
  const segments = prefix.slice(1).split("/");
  if (segments.some((s) => !PREFIX_SEGMENT.test(s))) throw fail("the prefix may hold letters, digits and _ . - between single slashes");
  return { url: text, endpoints, prefix };
}
