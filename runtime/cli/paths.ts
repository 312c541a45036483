/**
 * Folders the CLI falls back to. A file of its own: the commands import it and main.ts imports
 * the commands, so it cannot live in main.ts.
 */

/** Where `lanes start` looks when no dir is given: the repo's own functions/. */
export function defaultFunctionsDir(): string {
  return decodeURIComponent(new URL("../../functions/", import.meta.url).pathname);
}
