/** A real body file in /dev/shm as a host makes it (adapters/body-file.ts), with its child's side read and written as a child would. */
import { readSync, writeSync } from "node:fs";
import { openBodyFile, type HostBodyFile } from "../../adapters/body-file.ts";
import type { FileIo } from "../../runtime/channel/body-file.ts";

export function bodyFileForTest(): { file: HostBodyFile; childFd: number; childIo: FileIo } {
  const file = openBodyFile();
  if (!file) throw new Error("no body file could be made in /dev/shm on this machine");
  const childFd = file.stdio[0]!;
  const childIo: FileIo = {
    read: (into, at) => readSync(childFd, into, 0, into.byteLength, at),
    write: (bytes, at) => writeSync(childFd, bytes, 0, bytes.byteLength, at),
  };
  return { file, childFd, childIo };
}
