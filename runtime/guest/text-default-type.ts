/**
 * The Fetch standard gives `new Response("some text")` the header
 * `content-type: text/plain;charset=UTF-8`. Bun's Response leaves it out of its headers and
 * adds it only when Bun.serve writes the response (oven-sh/bun#8530, kept that way on purpose),
 * so through a lane, where the guest sends the headers it sees, a client would get no type at
 * all (or application/octet-stream from a Bun server). Where the runtime leaves it out, the
 * guest adds it where the Response is made, as the standard does: the function still gets the
 * runtime's own Response object, with the standard's header list (../../adapters/README.md, Responses).
 */
import { afterEachResponse } from "./response-hook.ts";

const TEXT_DEFAULT = "text/plain;charset=UTF-8";

export function giveStringBodiesTheirStandardType(): void {
  if (new Response("").headers.has("content-type")) return;
  afterEachResponse((res, body) => {
    if (typeof body === "string" && !res.headers.has("content-type")) res.headers.set("content-type", TEXT_DEFAULT);
  });
}
