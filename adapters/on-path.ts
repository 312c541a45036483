/** Where a command's executable is: the first folder of PATH that holds it, as a shell finds it. */
import { accessSync, constants } from "node:fs";
import * as path from "node:path";

export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":")) {
    const p = path.join(dir || ".", name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}
