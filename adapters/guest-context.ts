/**
 * A packed worker's functions, each in a context of its own (node:vm, which Node, Bun and Deno
 * all implement: README.md in this folder, Packed isolates): its own global object and built-ins, the
 * host's web classes (Request, Response, fetch, timers...) shared, and its own `process.env`,
 * `Deno.env` and `Bun.env`, which hold its manifest `env` and nothing else. Its bundle (built as
 * CommonJS, runtime/compile.ts) runs as a script in that context.
 *
 * Making a context costs 0.5-3 ms, so one is made ahead, while the worker is idle: a function's
 * first request takes it, and the next is made after.
 */
import { createRequire } from "node:module";
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { format } from "node:util";
import vm from "node:vm";

type Log = (level: "log" | "info" | "warn" | "error" | "debug", text: string) => void;

export interface ContextSpec {
  name: string;
  bundleUrl: string;
  env: Record<string, string>;
}

/** Globals a fresh context has of its own (its built-ins); everything else is the worker's, shared. */
let own: Set<string> | undefined;
/** Globals each context gets its own version of, below. */
const PER_FUNCTION = new Set(["console", "process", "Deno", "Bun", "global", "globalThis", "self"]);

function sharedGlobals(): string[] {
  own ??= new Set(Object.getOwnPropertyNames(vm.runInNewContext("globalThis")));
  return Object.getOwnPropertyNames(globalThis).filter((k) => !own!.has(k) && !PER_FUNCTION.has(k));
}

/** A new context holding the worker's shared globals (not yet any function's own ones). */
function blankContext(): { global: Record<string, unknown>; context: vm.Context } {
  const outer = globalThis as unknown as Record<string, unknown>;
  const g: Record<string, unknown> = {};
  for (const k of sharedGlobals()) {
    const d = Object.getOwnPropertyDescriptor(outer, k);
    if (!d) continue;
    if (!d.get && !d.set) {
      Object.defineProperty(g, k, d);
      continue;
    }
    // an accessor reads the worker's value (Node's `crypto` getter refuses any other `this`);
    // an assignment stays in this context, so no function changes what its neighbours see
    Object.defineProperty(g, k, {
      configurable: true,
      enumerable: d.enumerable ?? false,
      get: () => outer[k],
      set: (v) => Object.defineProperty(g, k, { value: v, writable: true, configurable: true, enumerable: true }),
    });
  }
  return { global: g, context: vm.createContext(g) };
}

/** `process`, `Deno`, `Bun`, `console` as this function sees them. */
function ownGlobals(env: Record<string, string>, log: Log): Record<string, unknown> {
  const outer = globalThis as unknown as Record<string, object | undefined>;
  const copy = { ...env };
  const mine: Record<string, unknown> = {};
  // The worker's own process with `env` of this function's own: the rest (nextTick, hrtime,
  // versions) is the worker's. process.env of a whole thread cannot differ per function.
  mine.process = Object.create(outer.process!, { env: { value: copy, writable: true, enumerable: true, configurable: true } });
  if (outer.Deno) {
    const denoEnv = {
      get: (k: string) => copy[k],
      has: (k: string) => k in copy,
      toObject: () => ({ ...copy }),
      set: (k: string, v: string) => void (copy[k] = v),
      delete: (k: string) => void delete copy[k],
    };
    mine.Deno = Object.create(outer.Deno, { env: { value: denoEnv, enumerable: true } });
  }
  if (outer.Bun) mine.Bun = Object.create(outer.Bun, { env: { value: copy, enumerable: true } });
  const write =
    (level: Parameters<Log>[0]) =>
    (...args: unknown[]) =>
      log(level, format(...args));
  mine.console = Object.assign(Object.create(outer.console!), {
    log: write("log"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    debug: write("debug"),
    trace: write("debug"),
  });
  return mine;
}

export interface ContextLoader {
  /** Run `spec`'s CommonJS bundle in a context of its own, with `globals` of its own too; resolves with its exports. */
  load(spec: ContextSpec, log: Log, globals?: Record<string, unknown>): Promise<{ exports: Record<string, unknown>; file: string }>;
}

export function contextLoader(): ContextLoader {
  let ahead: ReturnType<typeof blankContext> | undefined;
  const makeAhead = () => {
    if (ahead) return;
    const t = setTimeout(() => (ahead ??= blankContext()), 0);
    (t as { unref?: () => void }).unref?.();
  };
  makeAhead();
  return {
    async load(spec, log, globals = {}) {
      const file = fileURLToPath(spec.bundleUrl);
      const code = await readFile(file, "utf8");
      const { global, context } = ahead ?? blankContext();
      ahead = undefined;
      const mine = { ...ownGlobals(spec.env, log), ...globals };
      for (const [k, v] of Object.entries(mine)) Object.defineProperty(global, k, { value: v, writable: true, configurable: true });
      vm.runInContext("globalThis.global = globalThis", context);
      if ("self" in globalThis) vm.runInContext("globalThis.self = globalThis", context);
      const base = createRequire(file);
      const require = Object.assign((id: string) => (id === "process" || id === "node:process" ? mine.process : base(id)), {
        resolve: base.resolve,
        cache: base.cache,
      });
      // one line with the code's first, so the bundle's inline source map still lines up
      const wrapped = `(function (exports, require, module, __filename, __dirname, __lanes_import_meta_url) {${code}\n})`;
      const run = new vm.Script(wrapped, { filename: file }).runInContext(context) as (...args: unknown[]) => void;
      const module = { exports: {} as Record<string, unknown> };
      run.call(module.exports, module.exports, require, module, file, dirname(file), spec.bundleUrl);
      makeAhead();
      return { exports: module.exports, file };
    },
  };
}
