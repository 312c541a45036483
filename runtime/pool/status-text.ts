/**
 * The status text a function gave its Response, for the server to send as the reason phrase.
 * The host notes it beside the Response it builds instead of reading `statusText` back: on a
 * Node or Bun host that Response is @hono/node-server's lazy one, which builds a whole web
 * Response for any property but status and headers (the cost its lazy form exists to avoid).
 */
const texts = new WeakMap<Response, string>();
/** A reason phrase: tab, space, visible ASCII and obs-text (RFC 9112, 4). */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * The status text as a status line can carry it, or "" (the standard phrase is sent). A guest
 * may pass one that cannot be sent: Bun's Response accepts a line break in statusText.
 */
export function reasonPhrase(text: string): string {
  return REASON_PHRASE.test(text) ? text : "";
}

/** `res`, noted with its status text when it has one. */
export function withStatusText(res: Response, text: string): Response {
  if (text) texts.set(res, text);
  return res;
}

export function statusTextOf(res: Response): string | undefined {
  return texts.get(res);
}
