/**
 * A request answered without its body being read (refused before reading: a Content-Length over
 * maxBodyBytes, a full function, a route that does not exist) still has that body on its way.
 * A server that closes at once resets a client still sending, which can take the answer with it
 * (a 404 never reached a raw client of a Node host that closed once it had read 1 MB past the
 * answer); one that reads on to keep the connection serves a client that sends slowly, or
 * without end, for as long as it likes (Node, Bun and Deno hosts all did: README.md in this folder,
 * Serving HTTP). So the host lingers, as nginx (lingering_close) and Apache do: it reads and
 * drops what comes for at most LINGER_MS after the answer, then closes. A body that ends within
 * that keeps its connection on Node and Bun (a Deno host closes it: web-exchange.ts).
 */
export const LINGER_MS = 2000;
