/**
 * The links a path passes through on its way to what it names, as the kernel follows them:
 * each at its own place (the folders above it resolved). A grant or an entry whose way runs
 * through a link that a process-lane function may write leads wherever that function points it.
 */
import type { Sys } from "../../adapters/types.ts";

/** As the kernel (ELOOP): past this many links a path names nothing. */
const MAX_LINKS = 40;

export async function linksOnTheWay(abs: string, sys: Sys): Promise<string[]> {
  const links: string[] = [];
  let done = "/";
  const rest = abs.split("/");
  while (rest.length > 0) {
    const name = rest.shift() as string;
    if (name === "" || name === ".") continue;
    if (name === "..") {
      done = sys.dirname(done);
      continue;
    }
    const at = sys.join(done, name);
    if ((await sys.entryKind(at)) !== "link") {
      done = at;
      continue;
    }
    links.push(at);
    if (links.length > MAX_LINKS) break;
    const target = await sys.readlink(at);
    rest.unshift(...target.split("/"));
    if (target.startsWith("/")) done = "/";
  }
  return links;
}
