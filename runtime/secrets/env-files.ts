/**
 * `lanes dev`'s secret values: local files in the dotenv format (KEY=value, `export`, quotes,
 * multi-line double-quoted values; parsed by the `dotenv` package, the format's reference).
 * From lowest to highest precedence:
 *   1. `.env` beside lanes.json,
 *   2. `.dev.vars` beside lanes.json (the name wrangler uses),
 *   3. each `--env-file FILE`, a later one over an earlier one.
 * A name set in several files takes the value of the highest. Every name is a secret for every
 * function; they fill only the manifest's `{"secret": NAME}` entries, never plain values, and
 * nothing comes from the shell's environment.
 */
import { parse } from "dotenv";
import type { Sys } from "../../adapters/types.ts";
import { LanesError } from "../errors.ts";
import { SECRET_NAME } from "./model.ts";
import { SecretValues } from "./values.ts";

export const LOCAL_FILES = [".env", ".dev.vars"];

export class EnvFiles {
  private values: SecretValues;
  private generation = 0;

  /** `explicit`: the `--env-file` paths, in the order given. */
  constructor(
    private readonly sys: Sys,
    private readonly dir: string,
    private readonly explicit: string[],
  ) {
    this.values = SecretValues.empty((name) => this.howToSet(name));
  }

  /** The values now. */
  get current(): SecretValues {
    return this.values;
  }

  /** Every file that may hold values, lowest precedence first. */
  get paths(): string[] {
    return [...LOCAL_FILES.map((f) => this.sys.join(this.dir, f)), ...this.explicit.map((f) => this.sys.resolve(f))];
  }

  /** The files as host files no function may be granted (host/own-files.ts). */
  get ownFiles(): { flag: string; path: string }[] {
    return this.paths.map((path) => ({ flag: "secrets file", path }));
  }

  /** Read the files again; resolves with the names whose value changed. A `--env-file` that is gone is an error. */
  async read(): Promise<string[]> {
    const merged = new Map<string, string>();
    for (const [i, file] of this.paths.entries()) {
      const given = i >= LOCAL_FILES.length;
      if (!given && !(await this.sys.isFile(file))) continue;
      const text = await this.sys.readText(file).catch(() => {
        throw new LanesError("invalid_flag", `lanes dev: --env-file ${file}: cannot be read`);
      });
      for (const [name, value] of Object.entries(parse(text))) {
        // a name no manifest could ask for is someone else's variable: left out, not an error
        if (SECRET_NAME.test(name) && value !== "") merged.set(name, value);
      }
    }
    let next = SecretValues.empty((name) => this.howToSet(name));
    const changed: string[] = [];
    for (const [name, value] of merged) {
      const before = this.values.valueOf(name, null);
      const stamp = before?.value === value ? before.stamp : `local-${++this.generation}`;
      if (before?.value !== value) changed.push(name);
      next = next.with(name, null, value, stamp);
    }
    for (const name of this.values.names()) if (!merged.has(name)) changed.push(name);
    this.values = next;
    return changed;
  }

  private howToSet(name: string): string {
    return `add ${name}=... to .dev.vars or .env beside lanes.json, or pass --env-file FILE; looked in ${this.paths.join(", ")}`;
  }
}
