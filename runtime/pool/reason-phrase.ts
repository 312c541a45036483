/** A reason phrase: tab, space, visible ASCII and obs-text (RFC 9112, 4). */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * A function's status text as a status line can carry it, or "" (the server then sends the
 * standard phrase). A guest may pass one that cannot be sent: Bun's Response accepts a line
 * break in statusText (../../adapters/README.md, Responses).
 */
export function reasonPhrase(text: string): string {
  return REASON_PHRASE.test(text) ? text : "";
}
