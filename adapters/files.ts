/**
 * The file operations the deploy store needs beyond reading and writing text: bytes, folder
 * listings, what an entry is, removal, and a write that a crash (SIGKILL, power loss) cannot
 * leave half done.
 * node:fs behaves the same on Node, Bun and Deno for all of these (README.md in this folder, Files).
 */
import { open, readdir, readFile, readlink, rename, rm, stat, lstat, utimes, copyFile, link } from "node:fs/promises";
import * as path from "node:path";
import type { Sys } from "./types.ts";

type FileOps = Pick<Sys, "readBytes" | "writeFile" | "list" | "entryKind" | "readlink" | "remove" | "stamp" | "modifiedAt" | "touch" | "copy">;

let tmpCounter = 0;

export const fileOps: FileOps = {
  readBytes: async (p) => new Uint8Array(await readFile(p)),
  async writeFile(p, bytes, o = {}) {
    // A temp file in the same folder (rename is atomic only within one file system), made
    // durable before it takes the name, and the folder made durable after: otherwise a crash
    // can leave the new name pointing at an empty or partial file (ext4 data=ordered aside).
    const dir = path.dirname(p);
    const tmp = path.join(dir, `.${path.basename(p)}.${process.pid}.${++tmpCounter}.tmp`);
    const fh = await open(tmp, "w", 0o600);
    try {
      await fh.writeFile(bytes);
      if (o.durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await o.beforeRename?.();
    await rename(tmp, p);
    if (o.durable) await syncFolder(dir);
  },
  async list(p) {
    try {
      return await readdir(p);
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") return [];
      throw e;
    }
  },
  async entryKind(p) {
    try {
      const st = await lstat(p);
      return st.isFile() ? "file" : st.isDirectory() ? "folder" : st.isSymbolicLink() ? "link" : "other";
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "ENOENT" || code === "ENOTDIR") return undefined;
      throw e;
    }
  },
  readlink: (p) => readlink(p),
  async remove(p, o = {}) {
    // maxRetries: Node retries ENOTEMPTY (a file written into the tree while it was emptied)
    await rm(p, { recursive: true, force: true, maxRetries: 3 });
    if (o.durable) await syncFolder(path.dirname(p));
  },
  async stamp(p) {
    try {
      const st = await stat(p);
      return st.isFile() ? `${st.size}:${st.mtimeMs}:${st.ino}` : undefined;
    } catch {
      return undefined;
    }
  },
  async modifiedAt(p) {
    try {
      return (await lstat(p)).mtimeMs;
    } catch {
      return undefined;
    }
  },
  async touch(p) {
    const now = new Date();
    await utimes(p, now, now).catch(() => {});
  },
  async copy(from, to) {
    // a hard link when both are on one file system: no bytes to copy, and the new name appears
    // whole at once (a warm spare's bundle: runtime/lanes/spares.ts, whose bundles never change)
    try {
      await link(from, to);
      return;
    } catch {
      // another file system, or `to` exists: a copy, through a temp name so a reader never sees half of it
    }
    const tmp = `${to}.${process.pid}.${++tmpCounter}.tmp`;
    await copyFile(from, tmp);
    await rename(tmp, to);
  },
};

/** fsync a folder, so the names it holds (a rename into it) survive a crash. */
export async function syncFolder(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
