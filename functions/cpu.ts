/**
 * CPU-bound work: about 2 ms of SHA-256 hashing per request (`?rounds=N` to change it). It
 * blocks its thread, so it scales with instances across cores, not with concurrency.
 */
import { createHash } from "node:crypto";

export default {
  fetch(request: Request): Response {
    const rounds = Number(new URL(request.url).searchParams.get("rounds") ?? 4000);
    let digest = "lanes";
    for (let i = 0; i < rounds; i++) digest = createHash("sha256").update(digest).digest("hex");
    return Response.json({ rounds, digest });
  },
};
