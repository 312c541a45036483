/**
 * Why the host could not listen, as a user error: the port is taken, or `--host` is no address of
 * this machine (`10.99.99.99`) or a name that does not resolve (`999.1.1.1`, `nohost.invalid`).
 * The runtimes say the second in their own words and codes (Node ENOTFOUND or EADDRNOTAVAIL, Bun
 * EAGAIN or EADDRNOTAVAIL, Deno "failed to lookup address information" or AddrNotAvailable), and
 * it reached the user as a stack trace. (A port below 1024 without privileges fails here too.)
 */
import { LanesError } from "../errors.ts";

export function listenError(e: unknown, port: number, hostname: string): LanesError {
  // Node, Bun and Deno all say EADDRINUSE, each in its own words
  if ((e as { code?: string }).code === "EADDRINUSE") {
    return new LanesError("port_in_use", `port ${port} on ${hostname} is already in use: stop what listens there, or pass --port with another port (--port 0 picks a free one)`);
  }
  const why = e instanceof Error ? e.message : String(e);
  return new LanesError(
    "cannot_listen",
    `cannot listen on ${hostname} port ${port} (${why}): --host must be an address of this machine or a name that resolves to one, e.g. 127.0.0.1, 0.0.0.0 (every IPv4 address) or :: (every address); a --port below 1024 needs privileges`,
  );
}
