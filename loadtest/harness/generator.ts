/**
 * autocannon, as the bench and `lanes load` drive it, without the one thing it does for every
 * answer that neither uses: it decodes each answer's body into a string and keeps it
 * (`req.body += chunk` in lib/pipelinedRequestsQueue.js), for its `expectBody` and `verifyBody`
 * options and request chains (`requests[].onResponse`), which lanes never passes. For a 256 KiB
 * answer that decoding was two thirds of autocannon's CPU, so the load generator, not the server,
 * set the rate of every large-body cell (../README.md, The load generator). The bytes are
 * still counted (`addByteCount`), statuses and latencies are untouched.
 *
 * The patch is of autocannon's internal class, so a version that moves it fails here, loudly,
 * rather than measuring its own decoding again: package-lock.json pins the version.
 */
import autocannon from "autocannon";
import type { EventEmitter } from "node:events";
import { createRequire } from "node:module";

const QUEUE = "autocannon/lib/pipelinedRequestsQueue.js";
const queue = createRequire(import.meta.url)(QUEUE) as { prototype?: { addBody?: unknown } } | undefined;
if (typeof queue?.prototype?.addBody !== "function") {
  throw new Error(`${QUEUE} has no PipelinedRequestsQueue.addBody: this autocannon is not the one lanes was measured with (package-lock.json)`);
}
queue.prototype.addBody = function keepNoBody(): void {};

export default autocannon;

/**
 * For autocannon's `setupClient`, with one request in flight per connection (`pipelining: 1`).
 * When the server closes a connection before answering, autocannon reconnects and sends the next
 * request without reporting the lost one (lib/httpClient.js, the connection's "end" or "error"),
 * and keeps it queued: every later answer on that connection was timed from the lost request's
 * start, so latencies grew with each reset. Anything queued when the next request is sent was
 * lost: it is dropped, and `onLost` called with `performance.now()` of that moment, unless a
 * "timeout" (which autocannon reports as an error itself) follows in the same turn: autocannon
 * reconnects first and then emits it.
 */
export function dropLostRequests(client: EventEmitter, onLost: (at: number) => void): void {
  let unanswered = false;
  const queue = (client as EventEmitter & { pipelinedRequests?: { size(): number; clear(): void } }).pipelinedRequests;
  client.on("request", () => {
    if (queue && queue.size() > 0) queue.clear();
    if (unanswered) {
      const at = performance.now();
      let timedOut = false;
      const onTimeout = () => (timedOut = true);
      client.once("timeout", onTimeout);
      queueMicrotask(() => {
        client.off("timeout", onTimeout);
        if (!timedOut) onLost(at);
      });
    }
    unanswered = true;
  });
  client.on("response", () => (unanswered = false));
  client.on("connError", () => (unanswered = false));
}
