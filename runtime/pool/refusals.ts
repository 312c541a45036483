/** What a request gets when its function's pool cannot serve it: a 504, a 503 at capacity, a 503 while it cannot start. */
import { LanesError } from "../errors.ts";
import type { FunctionSpec } from "../manifest/load.ts";
import { MAX_QUEUED_BODY_BYTES, maxQueueWaitMs } from "./queue.ts";

export function timeoutError(spec: FunctionSpec): LanesError {
  return new LanesError("timeout", `function "${spec.name}" did not answer within ${spec.timeoutMs} ms`);
}

export function overloadedError(spec: FunctionSpec): LanesError {
  const capacity = `${spec.instances.max} instances x ${spec.concurrency} requests, then up to ${spec.queue} queued with ${MAX_QUEUED_BODY_BYTES / 1024 / 1024} MiB of bodies, for at most ${maxQueueWaitMs(spec.timeoutMs)} ms`;
  return new LanesError("overloaded", `function "${spec.name}" is at capacity (${capacity})`, {
    headers: { "retry-after": "1" },
  });
}

/** `lastError`: why its last start failed; `backoffUntil`: when it tries again. */
export function unavailableError(spec: FunctionSpec, lastError: LanesError | undefined, backoffUntil: number): LanesError {
  // the first line only: a client never sees a stack or a child's stderr (those are in the log)
  const why = lastError ? `: ${lastError.message.split("\n")[0]}` : "";
  return new LanesError("unavailable", `function "${spec.name}" cannot start${why}`, {
    headers: { "retry-after": String(Math.max(1, Math.ceil((backoffUntil - Date.now()) / 1000))) },
  });
}
