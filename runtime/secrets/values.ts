/**
 * The secret values a host gives its functions, as one immutable snapshot: a change makes a new
 * snapshot, so instances brought up with the new one can start next to those still serving with
 * the old one, and the switch between them is one assignment. Lives only in the host's memory.
 */
import { LanesError } from "../errors.ts";
import type { FunctionSpec } from "../manifest/load.ts";
import { secretKey } from "./model.ts";

interface Entry {
  value: string;
  /** Changes whenever the value does, and never holds (or derives from) it: what tells two values apart. */
  stamp: string;
}

/** A function's secret env: the values, and what they are (for telling a changed value apart). */
export interface SecretEnv {
  env: Record<string, string>;
  /** One `key@stamp` per secret used, sorted; "" when the function names none. */
  stamp: string;
  /** The keys (`secretKey`) of the secrets it uses. */
  keys: string[];
}

export class SecretValues {
  private constructor(
    private readonly entries: ReadonlyMap<string, Entry>,
    /** What the user can do about a missing secret here: how values are given on this host. */
    readonly howToSet: (name: string, fn: string) => string,
  ) {}

  static empty(howToSet: (name: string, fn: string) => string): SecretValues {
    return new SecretValues(new Map(), howToSet);
  }

  has(name: string, fn: string | null): boolean {
    return this.entries.has(secretKey(name, fn));
  }

  /** The value and stamp of one secret (for comparing snapshots: never shown). */
  valueOf(name: string, fn: string | null): Entry | undefined {
    return this.entries.get(secretKey(name, fn));
  }

  /** The names of the secrets for every function. */
  names(): string[] {
    return [...this.entries.keys()].filter((k) => k.startsWith("*/")).map((k) => k.slice(2));
  }

  /** A snapshot with the secret `name` of `fn` (null: every function) set to `value`. */
  with(name: string, fn: string | null, value: string, stamp: string): SecretValues {
    const next = new Map(this.entries);
    next.set(secretKey(name, fn), { value, stamp });
    return new SecretValues(next, this.howToSet);
  }

  without(name: string, fn: string | null): SecretValues {
    const next = new Map(this.entries);
    next.delete(secretKey(name, fn));
    return new SecretValues(next, this.howToSet);
  }

  /**
   * The values `spec`'s secrets take: the function's own secret of that name, else the one for
   * every function. Throws `missing_secret` naming the first that has none (never a value).
   */
  resolve(spec: FunctionSpec): SecretEnv {
    const env: Record<string, string> = {};
    const stamps: string[] = [];
    const keys: string[] = [];
    for (const [variable, name] of Object.entries(spec.secrets)) {
      const key = [secretKey(name, spec.name), secretKey(name, null)].find((k) => this.entries.has(k));
      if (!key) throw missingSecret(spec, variable, name, this.howToSet(name, spec.name));
      const e = this.entries.get(key)!;
      env[variable] = e.value;
      stamps.push(`${key}@${e.stamp}`);
      keys.push(key);
    }
    return { env, stamp: stamps.sort().join(","), keys };
  }

  /** Problems of the functions whose secrets have no value here, one line each. */
  missing(specs: readonly FunctionSpec[]): string[] {
    const out: string[] = [];
    for (const spec of specs) {
      for (const [variable, name] of Object.entries(spec.secrets)) {
        if (!this.has(name, spec.name) && !this.has(name, null)) out.push(missingSecret(spec, variable, name, this.howToSet(name, spec.name)).message);
      }
    }
    return out;
  }

  /** The stamp of `spec`'s secrets, or why it cannot have them: what a change of value is judged by. */
  stampOf(spec: FunctionSpec): string {
    try {
      return this.resolve(spec).stamp;
    } catch (e) {
      return `missing: ${(e as Error).message}`;
    }
  }
}

export function missingSecret(spec: FunctionSpec, variable: string, name: string, how: string): LanesError {
  return new LanesError("missing_secret", `functions.${spec.name}.env.${variable}: secret ${name} has no value on this host (${how})`);
}

/**
 * A function's whole env: its plain values and, when it names secrets, theirs from `values`.
 * `values` undefined: this host keeps no secrets (`why` says how to get them).
 */
export function functionEnv(spec: FunctionSpec, values: SecretValues | undefined, why: string): SecretEnv {
  if (Object.keys(spec.secrets).length === 0) return { env: { ...spec.env }, stamp: "", keys: [] };
  if (!values) {
    const [variable, name] = Object.entries(spec.secrets)[0]!;
    throw missingSecret(spec, variable, name, why);
  }
  const s = values.resolve(spec);
  return { ...s, env: { ...spec.env, ...s.env } };
}

/** Why a host without a deploy store (or without a key) has no secret values. */
export const NO_SECRETS_HERE =
  "this host keeps no secrets: start it with --data DIR and --secrets-key-file FILE, then lanes secret set; lanes dev reads them from .dev.vars or --env-file";
