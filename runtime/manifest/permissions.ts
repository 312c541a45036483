/**
 * A function's `sandbox` and `permissions`, checked against its folder: every granted path must
 * exist inside the manifest's folder (never the folder itself nor `lanes.json`, which holds
 * every function's env), and a network list must name real ports.
 */
import type { Grants, Sys } from "../../adapters/types.ts";
import type { FunctionInput, Lane, ManifestInput, SandboxMode } from "./schema.ts";
import { type FunctionSpec, MANIFEST_FILE } from "./load.ts";
import { linksOnTheWay } from "./grant-links.ts";

export interface Isolation {
  sandbox: SandboxMode;
  permissions: Grants;
}

export async function checkIsolation(
  at: string,
  f: FunctionInput,
  lane: Lane,
  input: ManifestInput,
  dir: string,
  sys: Sys,
  problems: string[],
  warnings: string[],
): Promise<Isolation> {
  const sandbox = f.sandbox ?? input.sandbox ?? "auto";
  if (lane === "isolate") {
    if (f.sandbox === "required") {
      problems.push(`${at}.sandbox: "required" needs "lane": "process" (the isolate lane runs in the host's own process, where no sandbox can hold it)`);
    } else if (f.sandbox) {
      warnings.push(`${at}.sandbox: applies only to the process lane; in the isolate lane the function runs in the host's own process`);
    }
    if (f.permissions) {
      warnings.push(
        `${at}.permissions: not enforced in the isolate lane (trusted code in the host's own process can reach all the host can); set "lane": "process" to enforce them`,
      );
    }
  }
  const p = f.permissions ?? {};
  const permissions: Grants = {
    net: p.net ?? false,
    read: await grantedPaths(`${at}.permissions.read`, p.read ?? [], dir, sys, problems),
    write: await grantedPaths(`${at}.permissions.write`, p.write ?? [], dir, sys, problems),
  };
  if (Array.isArray(p.net)) {
    p.net.forEach((hostPort, i) => {
      const port = Number(hostPort.slice(hostPort.lastIndexOf(":") + 1));
      if (port < 1 || port > 65535) problems.push(`${at}.permissions.net.${i}: the port must be from 1 to 65535 (got ${JSON.stringify(hostPort)})`);
    });
  }
  return { sandbox, permissions };
}

async function grantedPaths(at: string, list: string[], dir: string, sys: Sys, problems: string[]): Promise<string[]> {
  const out: string[] = [];
  const inside = (p: string) => {
    const rel = sys.relative(dir, p);
    return rel !== "" && !rel.startsWith("..") && !sys.isAbsolute(rel);
  };
  for (const [i, given] of list.entries()) {
    const where = `${at}.${i}`;
    const abs = sys.resolve(dir, given);
    if (!inside(abs)) {
      problems.push(`${where}: must be a path inside the manifest's folder ${dir}, not the folder itself (got ${JSON.stringify(given)})`);
      continue;
    }
    if (given.includes(",")) {
      problems.push(`${where}: must not contain a comma (Deno's --allow-* flags separate paths with commas) (got ${JSON.stringify(given)})`);
      continue;
    }
    if (!(await sys.exists(abs))) {
      problems.push(`${where}: not found: ${abs}`);
      continue;
    }
    const real = await sys.realpath(abs);
    if (!inside(real)) {
      problems.push(`${where}: must not link outside the manifest's folder (got ${JSON.stringify(given)})`);
      continue;
    }
    if (real === sys.join(dir, MANIFEST_FILE)) {
      problems.push(`${where}: must not grant ${MANIFEST_FILE}: it holds every function's env (got ${JSON.stringify(given)})`);
      continue;
    }
    out.push(abs);
  }
  return out;
}

/**
 * No process-lane grant may lie inside a write grant (its own function's or another's). The
 * sandbox binds each grant anew whenever a child starts, following links on the host: a function
 * that may write `shared` could swap `shared/x` for a link to `/`, and the next child granted
 * `shared/x` would get the host's whole file system. And a read grant inside a write grant would
 * be writable all the same (the write grant's mount covers it). Nor may a grant or an entry be
 * reached through a link inside a write grant, even one the operator made: the sandbox follows
 * it at each start, wherever the writer has pointed it since.
 */
export async function nestedGrants(functions: readonly FunctionSpec[], dir: string, sys: Sys): Promise<string[]> {
  const all = await processGrants(functions, dir, sys);
  const under = strictlyUnder(sys);
  const problems: string[] = [];
  for (const g of all) {
    const outer = all.find((w) => w.at.includes(".permissions.write.") && (under(g.abs, w.abs) || under(g.real, w.real)));
    if (outer) {
      problems.push(
        `${g.at}: must not lie inside ${outer.at} (${JSON.stringify(outer.rel)}): a function that may write there could replace it with a link out of the manifest's folder, which the sandbox would follow; grant folders side by side (got ${JSON.stringify(g.rel)})`,
      );
      continue;
    }
    // nor reach its folder through a link inside one: the link is the writer's to re-point
    const through = await writableLink(g.abs, all, dir, sys);
    if (through) {
      problems.push(
        `${g.at}: must not reach its folder through ${through.link}, a link inside ${through.w.at} (${JSON.stringify(through.w.rel)}): a function that may write there could point the link out of the manifest's folder, which the sandbox would follow at each start; grant where the link leads instead (got ${JSON.stringify(g.rel)})`,
      );
    }
  }
  // and no function's code: a sandboxed function that may write there could rewrite it, and the
  // next start would run that code wherever its function runs (an isolate: in the host itself)
  const writes = all.filter((w) => w.at.includes(".permissions.write."));
  for (const spec of functions) {
    const entry = await sys.realpath(spec.entry).catch(() => spec.entry);
    const outer = writes.find((w) => under(spec.entry, w.abs) || under(entry, w.real));
    if (outer) {
      problems.push(
        `functions.${spec.name}.entry: must not lie inside ${outer.at} (${JSON.stringify(outer.rel)}): a function that may write there could change the code "${spec.name}" runs; keep code and written data in separate folders (got ${JSON.stringify(sys.relative(dir, spec.entry))})`,
      );
      continue;
    }
    const through = await writableLink(spec.entry, all, dir, sys);
    if (through) {
      problems.push(
        `functions.${spec.name}.entry: must not reach its file through ${through.link}, a link inside ${through.w.at} (${JSON.stringify(through.w.rel)}): a function that may write there could point the link at code of its own, which the next start would run (got ${JSON.stringify(sys.relative(dir, spec.entry))})`,
      );
    }
  }
  return problems;
}

/** The first link on `abs`'s way that lies inside a process-lane write grant, with that grant. */
async function writableLink(abs: string, all: readonly Grant[], dir: string, sys: Sys): Promise<{ link: string; w: Grant } | undefined> {
  const writes = all.filter((w) => w.at.includes(".permissions.write."));
  if (writes.length === 0) return undefined;
  const under = strictlyUnder(sys);
  for (const link of await linksOnTheWay(abs, sys)) {
    const w = writes.find((w) => under(link, w.real) || under(link, w.abs));
    if (w) return { link: sys.relative(dir, link), w };
  }
  return undefined;
}

type Grant = { at: string; rel: string; abs: string; real: string };

/** Every process-lane grant, with its field, its path from the manifest's folder and where its links lead. */
async function processGrants(functions: readonly FunctionSpec[], dir: string, sys: Sys): Promise<Grant[]> {
  const all: Grant[] = [];
  for (const spec of functions) {
    if (spec.lane !== "process") continue;
    for (const field of ["read", "write"] as const) {
      for (const [i, abs] of spec.permissions[field].entries()) {
        all.push({ at: `functions.${spec.name}.permissions.${field}.${i}`, rel: sys.relative(dir, abs), abs, real: await sys.realpath(abs).catch(() => abs) });
      }
    }
  }
  return all;
}

function strictlyUnder(sys: Sys): (p: string, folder: string) => boolean {
  return (p, folder) => {
    const rel = sys.relative(folder, p);
    return rel !== "" && !rel.startsWith("..") && !sys.isAbsolute(rel);
  };
}

/**
 * The rule above for the files a function's bundle was built from (its imports, which only a
 * build knows): a problem naming the first that a process-lane function may write, or undefined.
 */
export async function writableSource(name: string, inputs: readonly string[], functions: readonly FunctionSpec[], dir: string, sys: Sys): Promise<string | undefined> {
  const writes = (await processGrants(functions, dir, sys)).filter((w) => w.at.includes(".permissions.write."));
  if (writes.length === 0) return undefined;
  const under = strictlyUnder(sys);
  for (const input of inputs) {
    const outer = writes.find((w) => under(input, w.abs) || under(input, w.real));
    if (outer) {
      return `functions.${name}: its source ${sys.relative(dir, input)} lies inside ${outer.at} (${JSON.stringify(outer.rel)}): a function that may write there could change the code "${name}" runs; keep code and written data in separate folders`;
    }
  }
  return undefined;
}
