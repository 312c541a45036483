/**
 * undici's "fetch failed" says nothing of why: the cause (a reset, a refused connection, a
 * socket the other side closed) goes into the message, so a failed run says what happened.
 */
export function withCause(e: unknown, what: string): unknown {
  if (!(e instanceof Error) || e.message !== "fetch failed" || !(e.cause instanceof Error)) return e;
  const cause = e.cause as Error & { code?: string };
  e.message = `fetch failed (${what}): ${cause.code ? `${cause.code} ` : ""}${cause.message}`;
  return e;
}
