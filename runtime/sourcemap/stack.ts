/**
 * Rewrites stack traces from guests so they point at the user's source files: positions in a
 * compiled function bundle become `/abs/path/fn.ts:line:column`, and frames inside lanes' own
 * guest code are dropped (they say nothing about the user's bug). Used by `lanes dev` for error
 * responses and for the function's logged errors. Deno maps the inline map by itself (then the
 * frames are already right and only internal ones are dropped); Node and Bun do not.
 */
import type { Sys } from "../../adapters/types.ts";
import { SourceMap } from "./map.ts";

/**
 * A location in a stack line: V8 writes `(file:///x.mjs:3:9)`, Bun `(/x.mjs:3:13)`, either may
 * write `at /x.mjs:3:9`. The lookbehind keeps `ext:deno_node/a.ts:1:2` (Deno's own) out.
 */
const LOCATION = /(?<=[\s(])(?:file:\/\/)?(\/[^\s():]+):(\d+):(\d+)/g;
const FRAME = /^\s*at /;
const MAX_MAPS = 64;

export class StackMapper {
  /** Bundle path → its map (insertion order = age, for eviction). */
  private readonly maps = new Map<string, SourceMap>();

  /** `internal`: path prefixes of lanes' own code (the guest runtime's sources and bundles). */
  constructor(
    private readonly sys: Sys,
    private readonly internal: string[],
  ) {}

  /** Read a function bundle's inline map so its frames can be mapped (synchronously) from now on. */
  async add(bundleFile: string): Promise<void> {
    if (this.maps.has(bundleFile)) return;
    try {
      const map = SourceMap.fromInline(await this.sys.readText(bundleFile));
      if (!map) return;
      this.maps.set(bundleFile, map);
      if (this.maps.size > MAX_MAPS) this.maps.delete(this.maps.keys().next().value!);
    } catch {
      // a bundle without a readable map: its frames stay as they are
    }
  }

  /**
   * The same text with every mappable frame mapped, lanes' own frames removed, and the frames
   * below the outermost user frame trimmed (they only show how lanes called the function).
   */
  map(text: string): string {
    if (!text.includes(":")) return text;
    const lines = text.split("\n").map((line) => this.mapLine(line));
    let lastUser = -1;
    lines.forEach((l, i) => {
      if (l.kind === "user") lastUser = i;
    });
    return lines
      .filter((l, i) => l.kind !== "lanes" && !(l.kind === "other" && lastUser >= 0 && i > lastUser))
      .map((l) => l.text)
      .join("\n");
  }

  private mapLine(line: string): { text: string; kind: "text" | "user" | "lanes" | "other" } {
    if (!FRAME.test(line)) return { text: line, kind: "text" };
    let user = false;
    let lanes = false;
    const text = line.replace(LOCATION, (_whole, rawPath: string, l: string, c: string) => {
      const path = rawPath.includes("%") ? safeDecode(rawPath) : rawPath;
      const pos = this.maps.get(path)?.lookup(Number(l), Number(c));
      const source = pos ? this.sys.resolve(this.sys.dirname(path), pos.source) : path;
      if (this.isInternal(source)) lanes = true;
      else user = true;
      return pos ? `${source}:${pos.line}:${pos.column}` : `${path}:${l}:${c}`;
    });
    return { text, kind: user ? "user" : lanes ? "lanes" : "other" };
  }

  /** The first frame that points into a user file, as `file:line:column`. */
  firstUserFrame(stack: string): string | undefined {
    for (const line of this.map(stack).split("\n")) {
      if (!FRAME.test(line)) continue;
      for (const m of line.matchAll(LOCATION)) {
        const path = m[1]!;
        if (!this.isInternal(path) && !path.includes("/node_modules/")) return `${path}:${m[2]}:${m[3]}`;
      }
    }
    return undefined;
  }

  private isInternal(path: string): boolean {
    if (this.maps.has(path)) return false;
    return this.internal.some((dir) => path.startsWith(dir));
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
