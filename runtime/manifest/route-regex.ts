/**
 * A route's `:name{...}` parts are regular expressions the host matches every request path
 * against, on its own thread and with a backtracking engine: a part that can fail slowly makes
 * one request freeze every function of the host (`/:x{(a+)+$}` took 12 s for a 31-character
 * path, and more than doubles with each further character). So a part may not:
 * - repeat a group (`(...)+`, `(...)*`, `(...){2,}`): nested repetition fails in exponential time;
 * - refer back to a group (`\1`, `\k<name>`);
 * - hold two repeated pieces that can take the same characters with no character between them
 *   that neither takes (`\d+\d+z`: polynomial, 7.5 s for 1,500 digits; `[a-z]+-[0-9]+` is fine);
 * and a route may have one repeated piece that can take a `/`, in its last part (`/:a{.+}/:b{.+}/:c{.+}/end`
 * took 55 s for a path of 3,000 slashes, `/:a{.*}/:b{[a-z]{2}}/end` 7.8 s for 8,000). The routes
 * lanes makes itself (`:id`, `*`) are not affected. test/manifest.test.ts has examples each way.
 */
import { splitRoutingPath } from "hono/utils/url";

/** Which characters a piece can take: one flag per ASCII code, and one for every other character. */
type Chars = Uint8Array;
const NON_ASCII = 128;

const chars = (test: (c: number) => boolean, nonAscii: boolean): Chars => {
  const s = new Uint8Array(129);
  for (let c = 0; c < 128; c++) s[c] = test(c) ? 1 : 0;
  s[NON_ASCII] = nonAscii ? 1 : 0;
  return s;
};
const ANY = chars(() => true, true);
const isDigit = (c: number) => c >= 48 && c <= 57;
const isWord = (c: number) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isSpace = (c: number) => (c >= 9 && c <= 13) || c === 32;
const CLASSES: Record<string, Chars> = {
  d: chars(isDigit, false),
  D: chars((c) => !isDigit(c), true),
  w: chars(isWord, false),
  W: chars((c) => !isWord(c), true),
  s: chars(isSpace, true),
  S: chars((c) => !isSpace(c), true),
};
const one = (ch: string): Chars => {
  const code = ch.charCodeAt(0);
  return chars((c) => c === code, code >= 128);
};
const union = (a: Chars, b: Chars): Chars => a.map((x, i) => x | b[i]!);
const overlap = (a: Chars, b: Chars): boolean => a.some((x, i) => x === 1 && b[i] === 1);

/** One piece of a pattern: what it takes, whether it must take something, whether it repeats without bound. */
interface Piece {
  text: string;
  set: Chars;
  required: boolean;
  unbounded: boolean;
}

class Refused extends Error {}

/** Why the part `re` of a route may fail slowly, or undefined. `slashy` collects its unbounded pieces that can take a `/`. */
function partProblem(re: string, slashy: string[]): string | undefined {
  try {
    const pieces = alternatives(re, { at: 0 }, false);
    for (const p of pieces.flat()) if (p.unbounded && p.set["/".charCodeAt(0)]) slashy.push(p.text);
    return undefined;
  } catch (e) {
    if (e instanceof Refused) return e.message;
    throw e;
  }
}

/** `a|b|c` up to the end or the `)` closing the group being read; each alternative checked. */
function alternatives(re: string, pos: { at: number }, inGroup: boolean): Piece[][] {
  const out: Piece[][] = [[]];
  while (pos.at < re.length) {
    const ch = re[pos.at]!;
    if (ch === ")" && inGroup) break;
    if (ch === "|") {
      pos.at++;
      out.push([]);
      continue;
    }
    const piece = atom(re, pos);
    if (piece) out[out.length - 1]!.push(quantified(re, pos, piece));
  }
  for (const seq of out) separated(seq);
  return out;
}

/** Read one atom at `pos` (undefined for an anchor or assertion, which takes no character). */
function atom(re: string, pos: { at: number }): Piece | undefined {
  const start = pos.at;
  const ch = re[pos.at++]!;
  const piece = (set: Chars): Piece => ({ text: re.slice(start, pos.at), set, required: true, unbounded: false });
  if (ch === "^" || ch === "$") return undefined;
  if (ch === ".") return piece(ANY);
  if (ch === "[") return piece(charClass(re, pos));
  if (ch === "\\") {
    const e = re[pos.at++] ?? "";
    if (/[1-9]/.test(e) || e === "k") throw new Refused(`"\\${e}": a back-reference can take exponential time to fail`);
    if (e === "b" || e === "B") return undefined;
    if (CLASSES[e]) return piece(CLASSES[e]);
    if (/[pPux0c]/.test(e)) {
      // \p{...}, \u{...}, \uXXXX, \xHH, \cX, \0: taken as any character (a wider set only refuses more)
      const m = /^(\{[^}]*\}|[0-9A-Fa-f]{1,4}|[A-Za-z])?/.exec(re.slice(pos.at))!;
      pos.at += m[0].length;
      return piece(ANY);
    }
    return piece(one(e));
  }
  if (ch === "(") {
    const look = /^\?(<?[=!])/.exec(re.slice(pos.at));
    const named = /^\?(:|<[A-Za-z_$][\w$]*>)/.exec(re.slice(pos.at));
    pos.at += (look ?? named)?.[0].length ?? 0;
    const inner = alternatives(re, pos, true);
    pos.at++; // the ")"
    if (look) return undefined; // takes no character: only what is inside is checked
    const all = inner.flat();
    return {
      text: re.slice(start, pos.at),
      set: all.reduce<Chars>((s, p) => union(s, p.set), new Uint8Array(129)),
      // a group is one piece: unbounded when anything in it is, and required only when every alternative is
      required: inner.every((seq) => seq.some((p) => p.required)),
      unbounded: all.some((p) => p.unbounded),
    };
  }
  return piece(one(ch));
}

/** The quantifier after `p`, if any: `?`, `*`, `+`, `{n}`, `{n,}`, `{n,m}`, each maybe lazy. */
function quantified(re: string, pos: { at: number }, p: Piece): Piece {
  const rest = re.slice(pos.at);
  const m = /^(?:([?*+])|\{(\d+)(,(\d*))?\})\??/.exec(rest);
  if (!m) return p;
  pos.at += m[0].length;
  const text = `${p.text}${m[0]}`;
  const [min, max] = m[1]
    ? ({ "?": [0, 1], "*": [0, Infinity], "+": [1, Infinity] } as const)[m[1] as "?" | "*" | "+"]
    : [Number(m[2]), m[3] ? (m[4] ? Number(m[4]) : Infinity) : Number(m[2])];
  if (p.text.startsWith("(") && max > 1) {
    throw new Refused(`"${text}": a repeated group can take exponential time to fail; repeat single characters or classes only`);
  }
  return { text, set: p.set, required: p.required && min > 0, unbounded: p.unbounded || max === Infinity };
}

/** Any two unbounded pieces need, between them, a required character neither can take. */
function separated(seq: Piece[]) {
  for (let j = 0; j < seq.length; j++) {
    const p = seq[j]!;
    if (!p.unbounded) continue;
    for (let i = 0; i < j; i++) {
      const q = seq[i]!;
      if (!q.unbounded || !overlap(q.set, p.set)) continue;
      const both = union(q.set, p.set);
      const fence = seq.slice(i + 1, j).some((b) => b.required && !b.unbounded && !b.text.startsWith("(") && !overlap(b.set, both));
      if (!fence) {
        throw new Refused(
          `"${q.text}" and "${p.text}" can take the same characters with nothing between them that neither takes, which can take seconds to fail on a long path; put such a character between them (as in [a-z]+-[0-9]+) or make them one`,
        );
      }
    }
  }
}

/** The class at `pos` (just after its `[`), up to its `]`. */
function charClass(re: string, pos: { at: number }): Chars {
  const negate = re[pos.at] === "^";
  if (negate) pos.at++;
  let set: Chars = new Uint8Array(129);
  while (pos.at < re.length && re[pos.at] !== "]") {
    let ch = re[pos.at++]!;
    if (ch === "\\") {
      const e = re[pos.at++] ?? "";
      if (CLASSES[e]) {
        set = union(set, CLASSES[e]);
        continue;
      }
      if (/[pPux0c]/.test(e)) return ANY; // wider than it is: refuses only more
      ch = e === "b" ? "\b" : e;
    }
    if (re[pos.at] === "-" && re[pos.at + 1] !== undefined && re[pos.at + 1] !== "]") {
      let to = re[pos.at + 1]!;
      pos.at += 2;
      if (to === "\\") to = re[pos.at++] ?? "";
      const [lo, hi] = [ch.charCodeAt(0), to.charCodeAt(0)];
      set = union(
        set,
        chars((c) => c >= lo && c <= hi, hi >= 128),
      );
      continue;
    }
    set = union(set, one(ch));
  }
  pos.at++; // the "]"
  return negate ? set.map((x) => 1 - x) : set;
}

/** Why matching `route` could take the host's thread for seconds, or undefined when it cannot. */
export function slowRouteProblem(route: string): string | undefined {
  const slashy: string[] = [];
  const labels = splitRoutingPath(route);
  // the router's own "*" at the end takes the rest of the path, slashes too
  if (labels[labels.length - 1] === "*") slashy.push("*");
  for (const [i, label] of labels.entries()) {
    const re = /^:([^{}]+)\{(.+)\}$/.exec(label)?.[2];
    if (re === undefined) {
      // the router cut a part at a "/" after a "{n}" inside it: what it matches is not the part as written
      if (/[{}]/.test(label)) return `${JSON.stringify(label)}: a {...} part that holds a {n,m} may not hold a "/" after it (the router splits the part there)`;
      continue;
    }
    const before = slashy.length;
    const problem = partProblem(re, slashy);
    if (problem) return `the part {${re}}: ${problem}`;
    // the router tries a part before the last at each "/" of the path: one that can take a "/" there is quadratic
    if (slashy.length > before && i < labels.length - 1) {
      return `the part {${re}}: "${slashy[before]}" can take a "/", which only the route's last part may (before it, it took 7.8 s on a path of 8,000 slashes); use [^/] there`;
    }
  }
  if (slashy.length > 1) {
    return `${slashy.map((s) => `"${s}"`).join(" and ")} can each take a "/": a route may have one such repeated piece (more can take seconds to fail on a long path); use [^/] where a piece stays within a segment`;
  }
  return undefined;
}
