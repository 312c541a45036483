import { formatArgs } from "../../adapters/guest.ts";

/**
 * An Error whose message and stack are strings, also when `e` comes from another realm (a packed
 * function's context has its own Error class, so `instanceof Error` does not hold): its message
 * and stack are kept. A message or stack that is not a string (`e.message = 42`, or a stack
 * read while `Error.prepareStackTrace` returned the call sites) is made one: a frame's strings
 * must be strings (codec.ts), and one that was not stopped the whole instance with a 502.
 */
export function asError(e: unknown): Error {
  const isError = e instanceof Error;
  if (!isError && Object.prototype.toString.call(e) !== "[object Error]") return new Error(formatArgs([e]));
  const x = e as { name?: unknown; message?: unknown; stack?: unknown };
  const [name, message, stack] = [read(x, "name"), read(x, "message"), read(x, "stack")];
  if (isError && typeof message === "string" && (stack === undefined || typeof stack === "string")) return e as Error;
  const err = new Error(text(message));
  err.name = name === undefined ? "Error" : text(name);
  err.stack = typeof stack === "string" ? stack : `${err.name}: ${err.message}`;
  return err;
}

/** A property of the thrown value; a getter that throws reads as undefined. */
function read(x: Record<string, unknown>, key: string): unknown {
  try {
    return x[key];
  } catch {
    return undefined;
  }
}

function text(v: unknown): string {
  return typeof v === "string" ? v : v === undefined ? "" : formatArgs([v]);
}
