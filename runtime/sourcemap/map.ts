/**
 * A source map (v3) reader: "which line of which source produced this generated position".
 * lanes bundles every function with an inline map (compile.ts). Deno applies it to stacks by
 * itself; Node (without --enable-source-maps, which does not reach our workers) and Bun do not,
 * so `lanes dev` maps guest stacks in the host. Only the lookup is needed, hence ~80 lines of
 * our own instead of a dependency. Format: https://tc39.es/ecma426/
 */
export interface OriginalPosition {
  /** `sourceRoot` + the source's name, as the map spells it (may still be relative). */
  source: string;
  /** 1-based, as stacks and editors count. */
  line: number;
  /** 1-based. */
  column: number;
}

interface RawMap {
  version: number;
  sources: string[];
  sourceRoot?: string;
  mappings: string;
}

const INLINE = /\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)\s*$/;
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DIGIT = new Map([...B64].map((c, i) => [c, i]));

export class SourceMap {
  private readonly sources: string[];
  /** Per generated line: segments as flat [genColumn, source, line, column] groups, sorted by genColumn. */
  private readonly lines: Int32Array[];

  constructor(raw: RawMap) {
    if (raw.version !== 3) throw new Error(`unsupported source map version ${raw.version}`);
    const root = raw.sourceRoot ?? "";
    this.sources = raw.sources.map((s) => (root && !s.startsWith("/") ? root.replace(/\/?$/, "/") + s : s));
    this.lines = decodeMappings(raw.mappings);
  }

  /** The sources it maps to, as `lookup` spells them. */
  get sourceNames(): readonly string[] {
    return this.sources;
  }

  /** The map inlined at the end of a bundle (`//# sourceMappingURL=data:...`), if any. */
  static fromInline(code: string): SourceMap | undefined {
    const m = INLINE.exec(code.slice(-Math.min(code.length, 4 * 1024 * 1024)));
    if (!m) return undefined;
    const bytes = Uint8Array.from(atob(m[1]!), (c) => c.charCodeAt(0));
    return new SourceMap(JSON.parse(new TextDecoder().decode(bytes)) as RawMap);
  }

  /** Generated 1-based line and column to the original position; undefined when unmapped. */
  lookup(line: number, column: number): OriginalPosition | undefined {
    const segs = this.lines[line - 1];
    if (!segs || segs.length === 0) return undefined;
    const col = column - 1;
    // last segment starting at or before col (binary search over groups of 4)
    let lo = 0;
    let hi = segs.length / 4 - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (segs[mid * 4]! <= col) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0 || segs[found * 4 + 1]! < 0) return undefined;
    const source = this.sources[segs[found * 4 + 1]!];
    if (source === undefined) return undefined;
    return { source, line: segs[found * 4 + 2]! + 1, column: segs[found * 4 + 3]! + 1 };
  }

  /**
   * The first generated position (1-based) of 1-based `line` of `source` (spelt as `lookup`
   * gives it): where a debugger puts a breakpoint set on that line of the original file.
   */
  generatedFor(source: string, line: number): { line: number; column: number } | undefined {
    const index = this.sources.indexOf(source);
    if (index < 0) return undefined;
    for (let l = 0; l < this.lines.length; l++) {
      const segs = this.lines[l]!;
      for (let i = 0; i < segs.length; i += 4) {
        if (segs[i + 1] === index && segs[i + 2] === line - 1) return { line: l + 1, column: segs[i]! + 1 };
      }
    }
    return undefined;
  }
}

function decodeMappings(mappings: string): Int32Array[] {
  const out: Int32Array[] = [];
  let source = 0;
  let srcLine = 0;
  let srcCol = 0;
  for (const lineText of mappings.split(";")) {
    const groups: number[] = [];
    let genCol = 0;
    if (lineText) {
      for (const seg of lineText.split(",")) {
        if (!seg) continue;
        const f = decodeVlq(seg);
        genCol += f[0]!;
        if (f.length >= 4) {
          source += f[1]!;
          srcLine += f[2]!;
          srcCol += f[3]!;
          groups.push(genCol, source, srcLine, srcCol);
        } else {
          groups.push(genCol, -1, 0, 0); // a generated span with no source
        }
      }
    }
    out.push(Int32Array.from(groups));
  }
  return out;
}

/** Base64 VLQ: 5 bits of value per digit, bit 6 = continuation, lowest bit of the result = sign. */
function decodeVlq(seg: string): number[] {
  const fields: number[] = [];
  let value = 0;
  let shift = 0;
  for (const c of seg) {
    const d = DIGIT.get(c);
    if (d === undefined) throw new Error(`invalid base64 VLQ digit ${JSON.stringify(c)}`);
    value += (d & 31) * 2 ** shift;
    if (d & 32) {
      shift += 5;
      continue;
    }
    fields.push(value % 2 === 1 ? -Math.floor(value / 2) : Math.floor(value / 2));
    value = 0;
    shift = 0;
  }
  return fields;
}
