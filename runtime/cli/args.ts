/** A small flag parser: `--name value`, `--name=value`, boolean flags, repeatable flags, positionals. */
import { LanesError } from "../errors.ts";

/** `list`: a flag that may be given several times (`--header a --header b`), kept in order. */
export interface FlagSpec {
  [name: string]: "string" | "boolean" | "list";
}

export interface Parsed {
  positionals: string[];
  flags: Record<string, string | boolean>;
  lists: Record<string, string[]>;
}

/** `maxPositionals`: more arguments than this (besides flags) is a usage error. */
export function parseArgs(argv: string[], spec: FlagSpec, command: string, maxPositionals = Infinity): Parsed {
  const positionals: string[] = [];
  const flags: Record<string, string | boolean> = {};
  const lists: Record<string, string[]> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (/^-[^-]/.test(arg)) {
      throw new LanesError("invalid_flag", `lanes ${command}: unknown flag ${arg}`);
    }
    if (!arg.startsWith("--")) {
      if (positionals.length >= maxPositionals) {
        throw new LanesError("invalid_flag", `lanes ${command}: unexpected argument ${JSON.stringify(arg)}${maxPositionals === 0 ? " (it takes none)" : ""}`);
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const kind = spec[name];
    if (!kind) {
      const known = Object.keys(spec)
        .map((k) => `--${k}`)
        .join(", ");
      throw new LanesError("invalid_flag", `lanes ${command}: unknown flag --${name} (known: ${known || "none"})`);
    }
    // a second value was taken without a word: `--port 1 --port 2` served on 2, `--to A --to B`
    // moved traffic to B; which one the user meant is not ours to guess
    if (kind !== "list" && name in flags) throw new LanesError("invalid_flag", `lanes ${command}: --${name} was given twice; it takes one value`);
    if (kind === "boolean") {
      const v = eq < 0 ? "true" : arg.slice(eq + 1);
      // anything but "false" read as true: --auto-rollback=no turned auto-rollback on
      if (v !== "true" && v !== "false") throw new LanesError("invalid_flag", `lanes ${command}: --${name} takes no value, or =true or =false (got ${JSON.stringify(v)})`);
      flags[name] = v === "true";
      continue;
    }
    const value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || (eq < 0 && value.startsWith("--"))) {
      throw new LanesError("invalid_flag", `lanes ${command}: --${name} needs a value`);
    }
    if (kind === "list") (lists[name] ??= []).push(value);
    else flags[name] = value;
  }
  return { positionals, flags, lists };
}

export function intFlag(p: Parsed, name: string, def: number, command: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = p.flags[name];
  if (v === undefined) return def;
  // decimal digits only: Number() would also take "", " ", "0x4c8f" and "1e3"
  const n = typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new LanesError("invalid_flag", `lanes ${command}: --${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`);
  }
  return n;
}

export function stringFlag(p: Parsed, name: string, def: string): string {
  const v = p.flags[name];
  return typeof v === "string" ? v : def;
}

/** A number from `min` to `max` (`what` names the unit in the error: "a number of seconds"). */
export function numberFlag(p: Parsed, name: string, def: number, command: string, min: number, max: number, what = "a number"): number {
  const v = p.flags[name];
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    throw new LanesError("invalid_flag", `lanes ${command}: --${name} must be ${what} from ${min} to ${max} (got ${JSON.stringify(v)})`);
  }
  return n;
}
