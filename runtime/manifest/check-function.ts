/** One function of a manifest: its entry as a FunctionSpec with the defaults filled in, and what is wrong with it. */
import type { RuntimeName, Sys } from "../../adapters/types.ts";
import type { FunctionSpec } from "./load.ts";
import { checkIsolation } from "./permissions.ts";
import { routePatternProblem } from "./route-pattern.ts";
import {
  DEFAULTS,
  ENV_NAME_RULE,
  ENV_TOTAL_MAX_BYTES,
  ENV_VALUE_MAX_BYTES,
  ENV_VALUE_RULE,
  envNameOk,
  type FunctionInput,
  isReservedPath,
  type ManifestInput,
  NAME_PATTERN,
  NAME_RULE,
  RESERVED_RULE,
} from "./schema.ts";

const utf8 = new TextEncoder();

/** One function's entry as a spec, with what is wrong with it (and what to warn about). */
export async function checkFunction(
  name: string,
  f: FunctionInput,
  input: ManifestInput,
  dir: string,
  sys: Sys,
  hostRuntime: RuntimeName,
): Promise<{ spec?: FunctionSpec; problems: string[]; warnings: string[] }> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const at = `functions.${name}`;
  if (!new RegExp(NAME_PATTERN).test(name)) {
    problems.push(`${at}: a function name ${NAME_RULE} (got ${JSON.stringify(name)})`);
    return { problems, warnings };
  }
  const entry = sys.resolve(dir, f.entry);
  const inside = (p: string) => {
    const rel = sys.relative(dir, p);
    return rel !== "" && !rel.startsWith("..") && !sys.isAbsolute(rel);
  };
  if (!inside(entry)) {
    problems.push(`${at}.entry: must resolve inside the manifest's folder ${dir} (got ${JSON.stringify(f.entry)})`);
  } else if (!(await sys.isFile(entry))) {
    problems.push(`${at}.entry: file not found: ${entry}`);
  } else if (!inside(await sys.realpath(entry))) {
    problems.push(`${at}.entry: must not link outside the manifest's folder (got ${JSON.stringify(f.entry)})`);
  }
  const route = f.route ?? `/${name}`;
  if (isReservedPath(route)) problems.push(`${at}.route: ${RESERVED_RULE} (got ${JSON.stringify(route)})`);
  const badPattern = routePatternProblem(route);
  if (badPattern) problems.push(`${at}.route: ${badPattern} (got ${JSON.stringify(route)})`);
  // in either lane, as the same code runs in both: a process-lane child could not be given it (a
  // warm spare, which gets its env later, hid that from lanes start, but not from lanes validate)
  let envBytes = 0;
  for (const [key, value] of Object.entries(f.env ?? {})) {
    if (!envNameOk(key)) problems.push(`${at}.env: ${ENV_NAME_RULE} (got ${JSON.stringify(key)})`);
    else if (typeof value === "string" && value.includes("\0")) problems.push(`${at}.env.${key}: ${ENV_VALUE_RULE}`);
    const bytes = typeof value === "string" ? utf8.encode(value).byteLength : 0;
    if (bytes > ENV_VALUE_MAX_BYTES) {
      problems.push(`${at}.env.${key}: must be at most ${ENV_VALUE_MAX_BYTES} bytes, the cap of an environment value, as of a secret (got ${bytes})`);
    }
    envBytes += utf8.encode(key).byteLength + bytes + 2;
  }
  if (envBytes > ENV_TOTAL_MAX_BYTES)
    problems.push(`${at}.env: its names and values together must be at most ${ENV_TOTAL_MAX_BYTES} bytes, as a process's environment (got ${envBytes})`);
  const lane = f.lane ?? DEFAULTS.lane;
  if (f.runtime && lane === "isolate" && f.runtime !== hostRuntime) {
    warnings.push(`${at}.runtime: "${f.runtime}" applies only to the process lane; in the isolate lane it runs on the host's runtime (${hostRuntime})`);
  }
  const isolation = await checkIsolation(at, f, lane, input, dir, sys, problems, warnings);
  if (f.pack === true && lane !== "isolate") {
    problems.push(`${at}.pack: only isolate-lane functions can be packed (this one has "lane": "${lane}"); remove "pack" or set "lane": "isolate"`);
  }
  const min = f.instances?.min ?? DEFAULTS.instances.min;
  const max = f.instances?.max ?? DEFAULTS.instances.max;
  if (min > max) problems.push(`${at}.instances.min: must be <= instances.max (got min ${min}, max ${max})`);
  const spec: FunctionSpec = {
    name,
    entry,
    dir,
    route,
    methods: f.methods ?? null,
    lane,
    runtime: lane === "process" ? (f.runtime ?? hostRuntime) : hostRuntime,
    instances: { min, max, idleMs: f.instances?.idleMs ?? DEFAULTS.instances.idleMs },
    concurrency: f.concurrency ?? DEFAULTS.concurrency,
    queue: f.queue ?? DEFAULTS.queue,
    timeoutMs: f.timeoutMs ?? DEFAULTS.timeoutMs,
    memoryMb: f.memoryMb ?? DEFAULTS.memoryMb,
    maxBodyBytes: f.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
    ...splitEnv(f.env ?? {}),
    shared: f.shared ?? `fn:${name}`,
    ...isolation,
    pack: lane === "isolate" && (f.pack ?? input.pack ?? false),
  };
  return { spec, problems, warnings };
}

function splitEnv(input: Record<string, string | { secret: string }>): { env: Record<string, string>; secrets: Record<string, string> } {
  const env: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  for (const [name, value] of Object.entries(input)) {
    if (typeof value === "string") env[name] = value;
    else secrets[name] = value.secret;
  }
  return { env, secrets };
}
