/**
 * Reads and checks a `lanes.json`. Every problem is reported as `path: rule (got value)` and
 * all of them at once, so a user fixes the manifest in one pass.
 */
import { Value } from "@sinclair/typebox/value";
import { transform } from "esbuild";
import type { Grants, RuntimeName, Sys } from "../../adapters/types.ts";
import { LanesError } from "../errors.ts";
import { checkFunction } from "./check-function.ts";
import { nestedGrants } from "./permissions.ts";
import { routeForms, shadowedRoutes } from "./route-pattern.ts";
import { SECRET_REF, FunctionSchema, ManifestSchema, PermissionsSchema, type Lane, type ManifestInput, type Method, METHODS, type SandboxMode } from "./schema.ts";

export interface FunctionSpec {
  name: string;
  /** Absolute path of the entry module. */
  entry: string;
  /** The manifest's folder. */
  dir: string;
  route: string;
  /** null: every method. */
  methods: Method[] | null;
  lane: Lane;
  runtime: RuntimeName;
  instances: { min: number; max: number; idleMs: number };
  concurrency: number;
  queue: number;
  timeoutMs: number;
  memoryMb: number;
  maxBodyBytes: number;
  /** The manifest's plain `env` values. */
  env: Record<string, string>;
  /**
   * The `env` entries that name a secret: variable name to secret name. Their values are never
   * in the spec (nor the manifest): the host adds them when it starts an instance.
   */
  secrets: Record<string, string>;
  /** Name of the ctx.shared store this function uses. */
  shared: string;
  /** Process lane: run each child in the OS sandbox ("auto": when bwrap is installed). */
  sandbox: SandboxMode;
  /** Process lane: what the function may reach (absolute paths), beyond its code and /tmp. */
  permissions: Grants;
  /** Isolate lane: it shares worker threads with other packed functions (runtime/pack/). */
  pack: boolean;
  /** `lanes dev --inspect`: its instance runs with the runtime's inspector (runtime/dev/inspect.ts). */
  inspect?: boolean;
}

export interface Manifest {
  dir: string;
  file: string;
  functions: FunctionSpec[];
  warnings: string[];
}

export const MANIFEST_FILE = "lanes.json";

export async function loadManifest(dirArg: string, sys: Sys, hostRuntime: RuntimeName): Promise<Manifest> {
  const dir = await sys.realpath(sys.resolve(dirArg)).catch(() => {
    throw new LanesError("invalid_manifest", `${dirArg}: no such folder`);
  });
  // `lanes start hello.ts` read as hello.ts/lanes.json
  if (await sys.isFile(dir)) throw new LanesError("invalid_manifest", `${dirArg} is a file, not a folder: give the folder that holds its ${MANIFEST_FILE}`);
  const file = sys.join(dir, MANIFEST_FILE);
  if (!(await sys.isFile(file))) {
    throw new LanesError("invalid_manifest", `${file}: not found (a functions folder needs a ${MANIFEST_FILE})`);
  }
  const text = await sys.readText(file);
  const raw = await parseJson(text, file);
  // the check alone is several times cheaper than listing errors (a manifest of thousands of functions)
  const problems = Value.Check(ManifestSchema, raw) ? [] : schemaProblems(raw);
  if (problems.length > 0) throw manifestError(file, problems);
  const input = raw as ManifestInput;
  // every function's files are checked at once (a manifest may hold thousands), reported in order
  const checked = await Promise.all(Object.entries(input.functions).map(([name, f]) => checkFunction(name, f, input, dir, sys, hostRuntime)));
  const functions: FunctionSpec[] = [];
  const warnings: string[] = [];
  for (const c of checked) {
    problems.push(...c.problems);
    warnings.push(...c.warnings);
    if (c.spec) functions.push(c.spec);
  }
  problems.push(...routeClashes(functions));
  if (problems.length === 0) problems.push(...shadowedRoutes(functions.map((f) => ({ name: f.name, route: f.route, methods: f.methods ?? METHODS }))));
  // grants are compared once each is known to be valid (their indices are then the manifest's)
  if (problems.length === 0) problems.push(...(await nestedGrants(functions, dir, sys)));
  if (problems.length > 0) throw manifestError(file, problems);
  return { dir, file, functions, warnings };
}

/**
 * JSON.parse keeps the last of two equal keys without a word, and its messages differ per
 * runtime; esbuild's JSON parser reports both (duplicate keys and syntax errors) with line and
 * column, the same everywhere.
 */
/** A manifest's text without the byte order mark an editor on Windows may start it with (JSON.parse refuses one). */
export const withoutBom = (text: string): string => (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);

async function parseJson(text: string, file: string): Promise<unknown> {
  text = withoutBom(text);
  const deep = tooDeep(text);
  if (deep) throw new LanesError("invalid_manifest", `${file}:${deep.line}:${deep.column}: invalid manifest: nested more than ${MAX_DEPTH} levels deep`);
  type Msg = { text: string; id?: string; location?: { line: number; column: number } | null };
  const at = (m: Msg) => (m.location ? `${file}:${m.location.line}:${m.location.column + 1}` : file);
  let warnings: Msg[];
  try {
    warnings = (await transform(text, { loader: "json", logLevel: "silent" })).warnings;
  } catch (e) {
    const m = (e as { errors?: Msg[] }).errors?.[0];
    throw new LanesError("invalid_manifest", m ? `${at(m)}: invalid JSON: ${m.text}` : `${file}: invalid JSON`);
  }
  const dups = warnings.filter((w) => w.id === "duplicate-object-key");
  if (dups.length > 0) {
    throw new LanesError(
      "invalid_manifest",
      `${file}: invalid manifest\n  ${dups.map((d) => `${at(d)}: ${d.text.replace(" in object literal", "")}: each key may appear once (the later one would silently win)`).join("\n  ")}`,
    );
  }
  return JSON.parse(text);
}

/**
 * A manifest's fields nest 5 levels deep (functions.f.permissions.read[0]). A deeper one is
 * refused before it is parsed: 50,000 nested objects overflowed the stack that lists the schema's
 * errors (an upload answered 500 internal error), and 100,000 nested arrays kept esbuild's
 * duplicate-key check busy for 4 s.
 */
const MAX_DEPTH = 32;

/** Where `text` first opens its (MAX_DEPTH + 1)th nested object or array, if it does. */
function tooDeep(text: string): { line: number; column: number } | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_DEPTH) {
        const before = text.slice(0, i).split("\n");
        return { line: before.length, column: before[before.length - 1]!.length + 1 };
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return undefined;
}

function schemaProblems(raw: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const e of Value.Errors(ManifestSchema, raw)) {
    const path = e.path.split("/").filter(Boolean).map(unescapePointer).join(".") || "(manifest)";
    // a union reports each branch; one line per path is enough
    if (seen.has(path)) continue;
    seen.add(path);
    const rule = boundRule(e.schema as IntegerSchema, e.value) ?? (e.schema as { errorMessage?: string }).errorMessage;
    if (e.message === "Unexpected property") {
      out.push(`${path}: unknown field${suggest(path)}`);
    } else if (e.message.startsWith("Expected required property")) {
      out.push(`${path}: is required`);
    } else if (/^functions\.[^.]+\.env\.[^.]+$/.test(path) && isSecretRef(e.value)) {
      // {"secret": ...} is meant: say what is wrong inside it, not that the union failed
      out.push(`${path}.secret: ${(SECRET_REF.properties.secret as unknown as { errorMessage: string }).errorMessage} (got ${show(e.value.secret)})`);
    } else {
      out.push(`${path}: ${rule ?? e.message.toLowerCase()} (got ${show(e.value)})`);
    }
  }
  return out;
}

function isSecretRef(v: unknown): v is { secret: unknown } {
  return typeof v === "object" && v !== null && Object.keys(v).length === 1 && "secret" in v;
}

interface IntegerSchema {
  type?: string;
  minimum?: number;
  maximum?: number;
}

/** For a bounded integer, the rule the value actually breaks: below, above, or not an integer. */
function boundRule(schema: IntegerSchema, value: unknown): string | undefined {
  const { type, minimum: min, maximum: max } = schema;
  if (type !== "integer" || min === undefined || max === undefined) return undefined;
  const low = min === 1 ? "must be a positive integer" : `must be an integer >= ${min}`;
  if (typeof value === "number" && value > max) return `must be at most ${max}`;
  if (typeof value === "number" && Number.isInteger(value) && value < min) return low;
  return `${low} and at most ${max}`;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, "/").replace(/~0/g, "~");
}

/** "did you mean …" for a misspelt field. */
function suggest(path: string): string {
  const parts = path.split(".");
  const field = parts[parts.length - 1] ?? "";
  const allowed =
    parts.length === 1
      ? Object.keys(ManifestSchema.properties)
      : parts.length === 3
        ? Object.keys(FunctionSchema.properties)
        : parts.length === 4 && parts[2] === "instances"
          ? ["min", "max", "idleMs"]
          : parts.length === 4 && parts[2] === "permissions"
            ? Object.keys(PermissionsSchema.properties)
            : [];
  const near = allowed.find((a) => distance(a.toLowerCase(), field.toLowerCase()) <= 2);
  if (near) return ` (did you mean "${near}"?)`;
  return allowed.length ? ` (allowed: ${allowed.join(", ")})` : "";
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Two routes with the same key are the same route: parameter names and a trailing slash do not matter. */
export const routeKey = (route: string): string => route.replace(/:[A-Za-z0-9_]+(\{[^}]*\})?/g, ":").replace(/\/+$/, "") || "/";

/**
 * Two functions answering the same method on the same route (routeKey).
 * Functions are grouped by route first: a manifest of thousands stays linear.
 */
function routeClashes(fns: FunctionSpec[]): string[] {
  const out = new Set<string>();
  const byRoute = new Map<string, FunctionSpec[]>();
  for (const a of fns) {
    for (const form of routeForms(a.route)) {
      const key = routeKey(form);
      const earlier = byRoute.get(key) ?? [];
      for (const b of earlier) {
        if (b === a) continue;
        const am = a.methods ?? METHODS;
        const bm = b.methods ?? METHODS;
        const both = am.filter((m) => bm.includes(m));
        if (both.length > 0) {
          const path = form === a.route ? "" : ` (as ${JSON.stringify(form)})`;
          out.add(`functions.${a.name}.route: ${JSON.stringify(a.route)}${path} ${both.join(", ")} is already served by function "${b.name}"`);
        }
      }
      earlier.push(a);
      byRoute.set(key, earlier);
    }
  }
  return [...out];
}

function manifestError(file: string, problems: string[]): LanesError {
  return new LanesError("invalid_manifest", `${file}: invalid manifest\n  ${problems.join("\n  ")}`);
}
