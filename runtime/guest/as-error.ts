import { formatArgs } from "../../adapters/guest.ts";

/**
 * An Error, also when `e` comes from another realm (a packed function's context has its own
 * Error class, so `instanceof Error` does not hold): its message and stack are kept.
 */
export function asError(e: unknown): Error {
  if (e instanceof Error) return e;
  if (Object.prototype.toString.call(e) === "[object Error]") {
    const x = e as { name?: unknown; message?: unknown; stack?: unknown };
    const err = new Error(String(x.message ?? ""));
    err.name = String(x.name ?? "Error");
    err.stack = typeof x.stack === "string" ? x.stack : `${err.name}: ${err.message}`;
    return err;
  }
  return new Error(formatArgs([e]));
}
