/**
 * The host frames every answer itself, on every host runtime, as Bun.serve and Deno.serve do
 * for a Response: how a body is delimited on the connection and what the connection does next
 * are the server's, not the function's. A function's own Content-Length, sent as it was, ended
 * its answer early and had the rest read as the answer to the next request on the connection
 * (response splitting: an untrusted function answering other functions' requests behind a proxy
 * that reuses connections), or made the client wait for bytes that never came.
 *
 * The rule, for the headers of every answer a function gives:
 * - hop-by-hop fields are dropped: connection, keep-alive, proxy-connection, te,
 *   transfer-encoding and upgrade (RFC 9110, 7.6.1:
 *   https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1), and trailer (no trailers ever follow);
 * - content-length: the server sends the real length of a body it has whole, whatever the
 *   function said. A streamed body keeps the function's (one, a number), as Deno.serve and Node's
 *   server keep it (a download's size, a progress bar), and the host holds the stream to it
 *   (response-body.ts): bytes past it are not sent and the function's stream is stopped, as
 *   Deno.serve does; a stream that ends short of it is cut, the connection closed (Deno.serve
 *   closes it too; Node and Bun's node:http send what comes, so a longer stream's rest was read
 *   as the next answer; Bun.serve sends every stream chunked: measured, Node 20.20.2, Bun 1.4.5,
 *   Deno 2.9.6). Without a valid one, a stream goes chunked. Where no body follows and the host
 *   has none to measure, a HEAD answer or a 304 may say how long the GET's body would be (RFC
 *   9110, 8.6: https://www.rfc-editor.org/rfc/rfc9110#section-8.6), if it is one number;
 * - x-request-id and lanes-version are the host's: the function's are dropped, the host's sent.
 *
 * Names are compared in any case: a process-lane guest is untrusted, its frames may say anything.
 */
import type { Reply } from "../../adapters/types.ts";
import type { HeaderPairs } from "../channel/frames.ts";
import { errorReply, LanesError } from "../errors.ts";

const DROP = 1;
const LENGTH = 2;
const OWN = new Map<string, number>([
  ["connection", DROP],
  ["keep-alive", DROP],
  ["proxy-connection", DROP],
  ["te", DROP],
  ["transfer-encoding", DROP],
  ["trailer", DROP],
  ["upgrade", DROP],
  ["x-request-id", DROP],
  ["lanes-version", DROP],
  ["content-length", LENGTH],
]);
/**
 * By length and first letter: only a name that may be one of them is lower-cased and looked up.
 * An answer with a content-type (x-request-id's length) costs 5-16 ns more than pushing the
 * x-request-id alone did, against 17-28 ns with a look-up of every name of a length in the list
 * (2e6 answers: Bun 1.4.5, Deno 2.9.6, Node 20.20.2 through tsx).
 */
const MAYBE: boolean[] = [];
const key = (name: string) => name.length * 128 + (name.charCodeAt(0) | 0x20);
for (const name of OWN.keys()) MAYBE[key(name)] = true;
const DIGITS = /^[0-9]{1,15}$/;

/**
 * The function's headers as the host sends them, with the host's x-request-id (the same array,
 * filtered in place). `keepLength`: its content-length stays (declaredLength found one).
 */
export function framedHeaders(headers: HeaderPairs, requestId: string, keepLength: boolean): HeaderPairs {
  let to = 0;
  for (let i = 0; i < headers.length; i++) {
    const pair = headers[i]!;
    if (MAYBE[key(pair[0])]) {
      const own = OWN.get(pair[0].toLowerCase());
      if (own === DROP || (own === LENGTH && !keepLength)) continue;
    }
    if (to !== i) headers[to] = pair;
    to++;
  }
  if (to !== headers.length) headers.length = to;
  headers.push(["x-request-id", requestId]);
  return headers;
}

/**
 * The length the function's content-length says, or -1: none, not a number, or more than one
 * line (a process-lane guest's frame may carry two, which a client would read either way).
 */
export function declaredLength(headers: HeaderPairs): number {
  let declared = -1;
  for (const [name, value] of headers) {
    if (name.length !== 14 || name.toLowerCase() !== "content-length") continue;
    if (declared >= 0 || !DIGITS.test(value)) return -1;
    declared = Number(value);
  }
  return declared;
}

/** A status a lane carries: a final answer (Fetch's Response range). No interim answer, no protocol switch. */
export function finalStatus(status: number): boolean {
  return status >= 200 && status <= 599;
}

/**
 * What a field value may hold on the wire: HTAB, SP, visible ASCII and obs-text (RFC 9110, 5.5:
 * https://www.rfc-editor.org/rfc/rfc9110#section-5.5). Fetch's Headers takes the other control
 * characters too (only NUL, CR and LF are refused), which Node's server throws on when it writes
 * the head and Deno.serve panics on, ending the whole host process (measured, Deno 2.9.6).
 */
const UNSENDABLE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * Why no HTTP server can send a function's headers (a value with a control character), or
 * undefined. Found where a lane's answer arrives (inflight.ts), so that the 500 the client gets is
 * what the access log and the metrics record, not the function's own status.
 */
export function unsendableHeader(headers: HeaderPairs): LanesError | undefined {
  for (const [name, value] of headers) {
    if (!UNSENDABLE.test(value)) continue;
    return new LanesError("function_error", `the function answered a header no HTTP server can send: the value of ${JSON.stringify(name.slice(0, 64))} holds a control character`);
  }
  return undefined;
}

/** The reply a host sends instead of an answer with a header no server can write, if it has one. */
export function unsendable(headers: HeaderPairs): Reply | undefined {
  const refused = unsendableHeader(headers);
  return refused && errorReply(refused, headers.find(([k]) => k === "x-request-id")?.[1] ?? "");
}
