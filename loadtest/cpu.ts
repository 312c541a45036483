/**
 * cpu: about 2 ms of SHA-256 hashing per request. It holds its thread, so throughput grows with
 * instances on separate cores, not with concurrency.
 */
import { createHash } from "node:crypto";

const ROUNDS = 3000;

export function digest(rounds: number): string {
  let d = "lanes";
  for (let i = 0; i < rounds; i++) d = createHash("sha256").update(d).digest("hex");
  return d;
}

export default {
  fetch(): Response {
    return Response.json({ rounds: ROUNDS, digest: digest(ROUNDS) });
  },
};

let expected: string | undefined;
export const bench = {
  check(status: number, body: Uint8Array) {
    expected ??= digest(ROUNDS);
    const got = status === 200 ? (JSON.parse(new TextDecoder().decode(body)) as { digest?: string }).digest : undefined;
    return got === expected ? undefined : `expected 200 with the digest of ${ROUNDS} SHA-256 rounds`;
  },
};
