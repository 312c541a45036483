/**
 * What a function's manifest grants (`permissions.read`, `permissions.write`: paths inside the
 * manifest's folder) travels with its version, so a folder that runs locally deploys and runs
 * the same: the packer adds every file under each granted path, by its path in the folder.
 *
 * An upload holds regular files and nothing else (upload.ts), so what it cannot carry as it is
 * (a link, a device, fifo or socket, a name a version cannot hold, an empty folder inside a
 * grant) is refused before anything is sent, naming the function's field, the file and the
 * rule, never dropped: the function would find it missing only once deployed. A granted path
 * that is itself an empty folder has no file to send: the host makes each granted path its
 * upload lacks as an empty folder when it writes the release (`grantedFolders`).
 */
import type { Sys } from "../../adapters/types.ts";
import { LanesError } from "../errors.ts";
import { MANIFEST_FILE, type Manifest } from "../manifest/load.ts";
import { MAX_FILES, pathProblem } from "./upload.ts";

const FIELDS = ["read", "write"] as const;
/** Problems listed at once (a folder may hold many links); the rest are counted. */
const SHOWN = 10;

/**
 * The files under every granted path of `manifest`, by relative path: bytes. `taken`: the paths
 * the version already holds (its manifest and bundles), which a granted file must not clash with.
 */
export async function grantedFiles(manifest: Manifest, sys: Sys, taken: string[]): Promise<Map<string, Uint8Array>> {
  const grants = manifest.functions.flatMap((spec) =>
    FIELDS.flatMap((field) => spec.permissions[field].map((abs, i) => ({ at: `functions.${spec.name}.permissions.${field}.${i}`, abs, rel: sys.relative(manifest.dir, abs) }))),
  );
  const w: Walk = { sys, at: "", found: new Map(), folded: new Map(), taken, granted: new Set(grants.map((g) => g.rel)), problems: [], room: MAX_FILES - taken.length };
  for (const t of taken) w.folded.set(t.toLowerCase(), t);
  for (const g of grants) {
    w.at = g.at;
    const linked = await linkOnTheWay(manifest.dir, g.rel, sys);
    if (linked) w.problems.push(`${g.at}: ${linked}: ${LINK}`);
    else await walk(w, g.abs, g.rel);
    if (w.found.size > w.room) {
      throw new LanesError(
        "invalid_upload",
        `${manifest.file}: its granted paths hold more than ${w.room} files: a version holds at most ${MAX_FILES}, its manifest and bundles included`,
      );
    }
  }
  if (w.problems.length > 0) {
    const more = w.problems.length > SHOWN ? `\n  ... and ${w.problems.length - SHOWN} more` : "";
    throw new LanesError("invalid_upload", `${manifest.file}: cannot be deployed as it is\n  ${w.problems.slice(0, SHOWN).join("\n  ")}${more}`);
  }
  const files = new Map<string, Uint8Array>();
  for (const [rel, abs] of w.found) files.set(rel, await sys.readBytes(abs));
  return files;
}

const LINK = "is a symbolic link: a deployed version holds regular files and folders only (an upload cannot carry links); grant or copy what it points to instead";

interface Walk {
  sys: Sys;
  /** The grant being walked: `functions.NAME.permissions.FIELD.I`. */
  at: string;
  /** Relative path: absolute path. */
  found: Map<string, string>;
  /** Every path so far by its lower case (an upload refuses two that differ only in case). */
  folded: Map<string, string>;
  taken: string[];
  /** Every granted path (relative): one that is an empty folder is made by the host. */
  granted: Set<string>;
  problems: string[];
  room: number;
}

/** The first folder above a granted path (inside the manifest's folder) that is a link: the grant's check followed it. */
async function linkOnTheWay(dir: string, rel: string, sys: Sys): Promise<string | undefined> {
  const parts = rel.split("/");
  for (let n = 1; n < parts.length; n++) {
    const above = parts.slice(0, n).join("/");
    if ((await sys.entryKind(sys.join(dir, above))) === "link") return above;
  }
  return undefined;
}

async function walk(w: Walk, abs: string, rel: string): Promise<void> {
  if (w.found.size > w.room) return;
  const kind = await w.sys.entryKind(abs);
  const problem = refusal(w, kind, rel);
  if (problem) {
    w.problems.push(`${w.at}: ${rel}: ${problem}`);
    return;
  }
  if (kind === "file") {
    w.found.set(rel, abs);
    w.folded.set(rel.toLowerCase(), rel);
    return;
  }
  const names = (await w.sys.list(abs)).sort();
  if (names.length === 0 && !w.granted.has(rel)) {
    w.problems.push(`${w.at}: ${rel}: is an empty folder inside a granted path, which an upload (files only) cannot carry: put a file in it, grant it by itself, or remove it`);
  }
  for (const name of names) await walk(w, w.sys.join(abs, name), `${rel}/${name}`);
}

/** Why what is at `rel` cannot travel in an upload as it is, or undefined. */
function refusal(w: Walk, kind: Awaited<ReturnType<Sys["entryKind"]>>, rel: string): string | undefined {
  if (kind === "link") return LINK;
  if (kind === "other") return "is not a regular file (a device, fifo or socket): a deployed version holds regular files and folders only";
  if (kind === undefined) return "not found (it went away while it was packed)";
  const problem = pathProblem(rel);
  if (problem) return `is not a path a deployed version can hold: a path ${problem}`;
  const twin = w.folded.get(rel.toLowerCase());
  if (twin !== undefined && twin !== rel) return `differs from ${twin} only in case, which a deployed version cannot hold`;
  // a file where lanes deploy writes one, or where it needs a folder (a folder may hold both)
  const clash = w.taken.find((t) => t === rel || rel.startsWith(`${t}/`) || (kind === "file" && t.startsWith(`${rel}/`)));
  if (clash) return `clashes with ${clash}, which lanes deploy writes itself (the manifest and bundles/<function>.mjs): rename or move it`;
  return undefined;
}

/**
 * The granted paths of the manifest in `files` that no file of the upload makes: folders the
 * host makes, empty, in the release. Only relative paths that stay inside the release and that a
 * file of the upload could have (`pathProblem`), in a folder the host wrote itself from regular
 * files, so no link can lead one outside; anything else is left for the manifest's check to
 * report (`not found`).
 */
export function grantedFolders(files: Map<string, Uint8Array>): string[] {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(files.get(MANIFEST_FILE)));
  } catch {
    return []; // the manifest's check says what is wrong
  }
  const out = new Set<string>();
  const functions = (raw as { functions?: unknown })?.functions;
  if (typeof functions !== "object" || functions === null) return [];
  const folders = new Set<string>();
  for (const p of files.keys()) {
    for (let i = p.indexOf("/"); i > 0; i = p.indexOf("/", i + 1)) folders.add(p.slice(0, i));
  }
  // already there: a file or a folder of the upload; or impossible: a file of the upload on the way
  const made = (rel: string) => files.has(rel) || folders.has(rel) || rel.split("/").some((_, n, parts) => n > 0 && files.has(parts.slice(0, n).join("/")));
  for (const f of Object.values(functions)) {
    const permissions = (f as { permissions?: Record<string, unknown> } | null)?.permissions;
    for (const field of FIELDS) {
      const list = permissions?.[field];
      if (!Array.isArray(list)) continue;
      for (const given of list) {
        const rel = typeof given === "string" ? normalized(given) : undefined;
        if (rel !== undefined && pathProblem(rel) === undefined && !made(rel)) out.add(rel);
      }
    }
  }
  return [...out];
}

/** `given` relative to the release, `.` and `..` resolved; undefined when it is absolute or leaves it. */
function normalized(given: string): string | undefined {
  if (given.startsWith("/")) return undefined;
  const parts: string[] = [];
  for (const s of given.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") {
      if (parts.pop() === undefined) return undefined;
    } else parts.push(s);
  }
  return parts.length > 0 ? parts.join("/") : undefined;
}
