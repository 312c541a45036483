/**
 * Deno host only: a request's header lines as Deno.serve received them, read from the Request's
 * inner request (`headerList`), instead of `[...request.headers]`, which first builds a Headers
 * object from that same list and then sorts and joins it through WebIDL's iterator: about 6% of
 * the Deno host's thread for a relayed hello (README.md in this folder, Serving HTTP).
 *
 * The lines come as a Node host gets them (`rawHeaders`): in arrival order, a repeated name once
 * per line. The guest builds the function's Request from them with the platform's Headers, so the
 * function sees the same headers either way. At start-up the reader is tried on a sample Request;
 * if Deno keeps its lines elsewhere, it stays off and the platform's iterator is used.
 */
import type { HeaderPairs } from "../runtime/channel/frames.ts";
import { symbolNamed } from "./undici.ts";

type Reader = (request: Request) => HeaderPairs | undefined;

function readerFor(key: symbol): Reader {
  return (request) => {
    const inner = (request as unknown as Record<symbol, { headerList?: unknown } | undefined>)[key];
    const list = inner?.headerList;
    if (!Array.isArray(list)) return undefined;
    const pairs: HeaderPairs = [];
    for (const line of list) {
      if (!Array.isArray(line) || typeof line[0] !== "string" || typeof line[1] !== "string") return undefined;
      pairs.push([line[0], line[1]]);
    }
    return pairs;
  };
}

/** Lines in an order the platform's iterator would change, with a repeated name. */
const SAMPLE: HeaderPairs = [
  ["x-b", "2"],
  ["x-a", "1"],
  ["x-b", "3"],
];

/** The reader, if it answers as expected on a sample; undefined otherwise (or off Deno). */
export function denoHeaderLines(): Reader | undefined {
  try {
    const sample = new Request("http://lanes.test/", { headers: SAMPLE });
    const key = symbolNamed(sample, "request");
    if (!key) return undefined;
    const read = readerFor(key);
    return JSON.stringify(read(sample)) === JSON.stringify(SAMPLE) ? read : undefined;
  } catch {
    return undefined;
  }
}
