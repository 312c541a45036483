/**
 * autocannon, as the bench and `lanes load` drive it, without the one thing it does for every
 * answer that neither uses: it decodes each answer's body into a string and keeps it
 * (`req.body += chunk` in lib/pipelinedRequestsQueue.js), for its `expectBody` and `verifyBody`
 * options and request chains (`requests[].onResponse`), which lanes never passes. For a 256 KiB
 * answer that decoding was two thirds of autocannon's CPU, so the load generator, not the server,
 * set the rate of every large-body cell (loadtest/README.md, The load generator). The bytes are
 * still counted (`addByteCount`), statuses and latencies are untouched.
 *
 * The patch is of autocannon's internal class, so a version that moves it fails here, loudly,
 * rather than measuring its own decoding again: package-lock.json pins the version.
 */
import autocannon from "autocannon";
import { createRequire } from "node:module";

const QUEUE = "autocannon/lib/pipelinedRequestsQueue.js";
const queue = createRequire(import.meta.url)(QUEUE) as { prototype?: { addBody?: unknown } } | undefined;
if (typeof queue?.prototype?.addBody !== "function") {
  throw new Error(`${QUEUE} has no PipelinedRequestsQueue.addBody: this autocannon is not the one lanes was measured with (package-lock.json)`);
}
queue.prototype.addBody = function keepNoBody(): void {};

export default autocannon;
