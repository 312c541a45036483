/**
 * Reads a request body without ever reading past `limit` bytes. A Content-Length over the limit
 * is refused before a byte is read; a body without one (chunked) is refused as soon as it
 * passes the limit, and the rest of the upload is not read. A body with a Content-Length is
 * read straight into one buffer of that size (no second copy). The whole body must arrive
 * before `deadline` (the function's timeoutMs): a client that sends it a byte at a time gets a
 * 408 in time, and its slot is not held.
 */
import type { Exchange } from "../../adapters/types.ts";
import { hostBuffers } from "../channel/buffer-pool.ts";
import { LanesError } from "../errors.ts";
import { IdTable } from "../id-table.ts";
import { Deadlines } from "../pool/deadlines.ts";

/**
 * The deadlines of one function's body reads behind one timer (pool/deadlines.ts): a
 * `setTimeout` and `clearTimeout` per request with a body cost a Deno host 1.1-1.3 µs (Node's
 * 0.27, Bun's 0.10; ../../loadtest/README.md, The hot path). One function's reads share one
 * timeoutMs, so their deadlines arrive in order, as Deadlines wants them.
 */
export class BodyReads {
  private readonly late = new IdTable<() => void>();
  private next = 0;
  private readonly deadlines = new Deadlines(
    (id) => this.late.has(id),
    (id) => {
      const resolve = this.late.get(id);
      this.late.delete(id);
      resolve?.();
    },
  );

  /** A read that must end by `deadline`: `late` resolves if it has not (`done`) by then. */
  start(deadline: number): { id: number; late: Promise<"late"> } {
    const id = ++this.next;
    const late = new Promise<"late">((resolve) => this.late.set(id, () => resolve("late")));
    this.deadlines.add(id, deadline);
    return { id, late };
  }

  done(id: number): void {
    this.late.delete(id);
    this.deadlines.trim();
  }

  /**
   * The function stopped: its timer goes too. It outlives the last read by up to timeoutMs
   * (deadlines.ts keeps it armed across reads), which held a stopped host's process open.
   */
  clear(): void {
    this.deadlines.clear();
  }
}

/**
 * The upload failed before its end: the client half-closed short of its Content-Length, or the
 * chunks stopped mid-way. Node's and Bun's servers answer that 400 themselves; Deno's hands the
 * host an error (BadResource) that was answered as a 500 internal error, as if lanes had failed.
 */
function cutShort(e: unknown): never {
  if (e instanceof LanesError) throw e;
  throw new LanesError("bad_request", "the request body ended before it was complete", { cause: e });
}

/** `reads`: the function's shared deadline timer (a timer of its own per read without). */
export async function readBody(ex: Exchange, limit: number, name: string, deadline: number, reads?: BodyReads): Promise<Uint8Array | null> {
  const tooLarge = () => new LanesError("payload_too_large", `request body is over the ${limit}-byte limit of function "${name}"`);
  const declared = ex.header("content-length");
  const length = declared === undefined ? NaN : Number(declared);
  if (length > limit) throw tooLarge();
  // A request has a body when it says so (RFC 9112, 6.3): a Content-Length, 0 too (the
  // function's request.body is then an empty stream, as in-process), or Transfer-Encoding.
  // Servers differ in what they give one that has neither (Deno.serve: an empty stream).
  if (declared === undefined && ex.header("transfer-encoding") === undefined) return null;
  if (length === 0) return new Uint8Array(0);
  // from the host's pool: invoke.ts gives it back once the request is over
  let into = Number.isSafeInteger(length) ? hostBuffers.take(length) : undefined;
  const body = ex.body(into);
  if (!body) {
    hostBuffers.give(into);
    return null;
  }
  const parts: Uint8Array[] = [];
  let size = 0;
  const chunks = body[Symbol.asyncIterator]();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const shared = reads?.start(deadline);
  const late = shared?.late ?? new Promise<"late">((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()), "late")));
  try {
    for (;;) {
      const next = await Promise.race([chunks.next().catch(cutShort), late]);
      if (next === "late") {
        throw new LanesError("request_timeout", `the request body did not arrive within timeoutMs of function "${name}"`);
      }
      if (next.done) break;
      const value = next.value;
      if (into?.byteLength === 0) {
        // read straight into it, which moved its memory to the chunk's buffer (Exchange.body)
        hostBuffers.moved(into.buffer as ArrayBuffer, value.buffer as ArrayBuffer);
        into = new Uint8Array(value.buffer, 0, length);
      }
      if (size + value.byteLength > limit) throw tooLarge();
      if (into && size + value.byteLength > into.byteLength) {
        throw new LanesError("bad_request", `request body is longer than its Content-Length (${length})`);
      }
      if (!into) parts.push(value);
      else if (!(value.buffer === into.buffer && value.byteOffset === size)) into.set(value, size);
      size += value.byteLength;
    }
  } catch (e) {
    void chunks.return?.(); // stop reading the upload: the rest is never taken in
    throw e;
  } finally {
    if (shared) reads!.done(shared.id);
    else clearTimeout(timer);
  }
  if (size === 0) return new Uint8Array(0);
  if (into && size === into.byteLength) return into;
  if (into) {
    const short = into.slice(0, size);
    hostBuffers.give(into);
    return short;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
