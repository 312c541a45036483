/**
 * What `lanes deploy` sends and how the host checks it. Every byte of an upload is treated as
 * hostile: the body is JSON with each file's bytes in base64,
 *
 *   { "files": [{ "path": "lanes.json", "data": "<base64>" }, ...],
 *     "tag": "...", "message": "...", "percent": 30, "ifVersion": "v3", "autoRollback": true }
 *
 * and every path must be relative and stay inside the version's folder: letters, digits and
 * `. _ - @ +` in `/`-separated segments, no empty, `.` or `..` segment, no backslash, no two
 * files that differ only in case, no file that is also a folder. A file entry holds a path and
 * bytes, nothing else: links, modes and owners cannot be expressed, and an entry that tries
 * is refused. A refusal is 400 naming the file (or field) and the rule.
 */
import { LanesError } from "../errors.ts";
import { MANIFEST_FILE } from "../manifest/load.ts";
import { decodeBase64, encodeBase64 } from "./base64.ts";
import { VERSION_ID } from "./model.ts";

export interface Upload {
  files: Map<string, Uint8Array>;
  tag: string | null;
  message: string | null;
  /** 100: every request; 1-99: a gradual deployment of the changed functions. */
  percent: number;
  ifVersion: string | null;
  autoRollback: boolean;
}

export const MAX_FILES = 2000;
const MAX_PATH = 200;
const MAX_DEPTH = 16;
const SEGMENT = /^[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*$/;
const FIELDS = ["files", "tag", "message", "percent", "ifVersion", "autoRollback"];

const bad = (msg: string) => new LanesError("invalid_upload", msg);

/** Why `path` may not be a file of a version, or undefined when it may. */
export function pathProblem(path: unknown): string | undefined {
  if (typeof path !== "string" || path === "") return "must be a non-empty relative path";
  if (path.length > MAX_PATH) return `must be at most ${MAX_PATH} characters`;
  if (/[\u0000-\u001f\u007f]/.test(path)) return "must not contain control characters";
  if (path.includes("\\")) return "must use / between folders (a backslash is not allowed)";
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) return "must be relative (absolute paths are not allowed)";
  const segments = path.split("/");
  if (segments.length > MAX_DEPTH) return `must be at most ${MAX_DEPTH} folders deep`;
  for (const s of segments) {
    if (s === "") return "must not hold an empty segment (// or a trailing /)";
    if (s === "." || s === "..") return "must stay inside the folder (no . or .. segments)";
    if (!SEGMENT.test(s)) return `segment ${JSON.stringify(s)} may hold only letters, digits and . _ - @ +, and must not start with a dot`;
  }
  return undefined;
}

/** Check a parsed upload body; `maxBytes` bounds the decoded files together. */
export function parseUpload(body: unknown, maxBytes: number): Upload {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad("body: must be a JSON object");
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!FIELDS.includes(k)) throw bad(`${k}: unknown field (allowed: ${FIELDS.join(", ")})`);
  }
  const files = parseFiles(o.files, maxBytes);
  return {
    files,
    tag: tagField(o.tag),
    message: messageField(o.message),
    percent: percentField(o.percent),
    ifVersion: ifVersionField(o.ifVersion),
    autoRollback: boolField(o.autoRollback, "autoRollback"),
  };
}

function parseFiles(v: unknown, maxBytes: number): Map<string, Uint8Array> {
  if (!Array.isArray(v) || v.length === 0) throw bad(`files: must be a non-empty list of {path, data}`);
  if (v.length > MAX_FILES) throw bad(`files: at most ${MAX_FILES} files (got ${v.length})`);
  const files = new Map<string, Uint8Array>();
  const folded = new Map<string, string>();
  let total = 0;
  v.forEach((entry: unknown, i) => {
    const at = `files[${i}]`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw bad(`${at}: must be an object {path, data}`);
    const e = entry as Record<string, unknown>;
    const where = typeof e.path === "string" ? `${at} (${JSON.stringify(e.path.slice(0, MAX_PATH))})` : at;
    for (const k of Object.keys(e)) {
      if (k === "path" || k === "data") continue;
      if (/link|target|type|mode|owner|uid|gid/i.test(k))
        throw bad(`${where}: only regular files can be uploaded (links, modes and owners are not allowed; got ${JSON.stringify(k)})`);
      throw bad(`${where}: unknown field ${JSON.stringify(k)} (a file is {path, data})`);
    }
    const problem = pathProblem(e.path);
    if (problem) throw bad(`${where}: path ${problem}`);
    const path = e.path as string;
    const key = path.toLowerCase();
    const twin = folded.get(key);
    if (twin !== undefined) {
      throw bad(`${where}: duplicate path${twin === path ? "" : ` (differs from ${JSON.stringify(twin)} only in case)`}`);
    }
    folded.set(key, path);
    if (typeof e.data !== "string") throw bad(`${where}: data must be the file's bytes in base64`);
    const bytes = decodeBase64(e.data);
    if (!bytes) throw bad(`${where}: data is not valid base64`);
    total += bytes.byteLength;
    if (total > maxBytes) throw new LanesError("payload_too_large", `files: the upload holds more than ${maxBytes} bytes`);
    files.set(path, bytes);
  });
  for (const [key, path] of folded) {
    const parts = key.split("/");
    for (let n = 1; n < parts.length; n++) {
      const prefix = parts.slice(0, n).join("/");
      if (folded.has(prefix)) throw bad(`files (${JSON.stringify(path)}): ${JSON.stringify(folded.get(prefix))} is both a file and a folder`);
    }
  }
  if (!files.has(MANIFEST_FILE)) throw bad(`files: must hold ${MANIFEST_FILE} at the top of the folder`);
  return files;
}

function text(v: unknown, field: string, max: number, multiline: boolean): string | null {
  if (v === undefined || v === null) return null;
  const control = multiline ? /[\u0000-\u0008\u000b-\u001f\u007f]/ : /[\u0000-\u001f\u007f]/;
  if (typeof v !== "string" || v.length > max || control.test(v)) {
    throw bad(`${field}: must be text of at most ${max} characters${multiline ? "" : " on one line"}, without control characters`);
  }
  return v === "" ? null : v;
}

export const tagField = (v: unknown, field = "tag"): string | null => text(v, field, 64, false);
export const messageField = (v: unknown, field = "message"): string | null => text(v, field, 1000, true);

export function percentField(v: unknown, field = "percent"): number {
  if (v === undefined || v === null) return 100;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 100) {
    throw bad(`${field}: must be an integer from 1 to 100 (got ${JSON.stringify(v)})`);
  }
  return v;
}

export function ifVersionField(v: unknown, field = "ifVersion"): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "string" || !VERSION_ID.test(v)) throw bad(`${field}: must be a version id such as "v3" (got ${JSON.stringify(v)})`);
  return v;
}

function boolField(v: unknown, field: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") throw bad(`${field}: must be true or false (got ${JSON.stringify(v)})`);
  return v;
}

/** The JSON body for `files` (what `lanes deploy` sends). */
export function uploadBody(files: Map<string, Uint8Array>, options: Omit<Upload, "files">): string {
  return JSON.stringify({
    files: [...files].map(([path, bytes]) => ({ path, data: encodeBase64(bytes) })),
    ...options,
  });
}
