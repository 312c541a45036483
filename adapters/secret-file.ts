/**
 * Reading a file that holds a secret of lanes itself (the secrets key): like ssh with a private
 * key, lanes refuses one that another user may read or change, since whoever reads it can open
 * every stored secret. Symlinks are followed (a Kubernetes Secret volume is a tree of them);
 * what counts is the file they lead to.
 */
import type { Stats } from "node:fs";
import { readFile, stat } from "node:fs/promises";

export async function readSecretFile(p: string): Promise<Uint8Array> {
  let info: Stats;
  try {
    info = await stat(p);
  } catch (e) {
    throw new Error(reason(e, "stat"));
  }
  if (!info.isFile()) throw new Error("is not a regular file");
  const me = process.getuid?.();
  if (me !== undefined && info.uid !== me && info.uid !== 0) {
    throw new Error(`is owned by uid ${info.uid}, not by this user (uid ${me}) or root: its owner could read or replace the key`);
  }
  const mode = info.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    const who = (mode & 0o007) !== 0 ? "every user" : "its group";
    throw new Error(`can be read or changed by ${who} (mode ${mode.toString(8).padStart(3, "0")}); only its owner may: chmod 600 ${p}`);
  }
  try {
    return new Uint8Array(await readFile(p));
  } catch (e) {
    throw new Error(reason(e, "read"));
  }
}

function reason(e: unknown, what: "stat" | "read"): string {
  const code = (e as { code?: string }).code;
  if (code === "ENOENT" || code === "ENOTDIR") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "cannot be read by this user (permission denied)";
  return `cannot be ${what === "stat" ? "found" : "read"} (${code ?? (e as Error).message})`;
}
