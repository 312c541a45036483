/**
 * Adds one function to a `lanes.json` text for `lanes new`, keeping the rest of the file byte
 * for byte: the new entry is inserted after the last one, in the same layout (one line or
 * several, with the file's indent). JSON has no comments, so a textual edit loses nothing; if
 * the text has a shape this does not expect, it is re-serialised with the file's own indent.
 */
export function addFunction(text: string, name: string, spec: Record<string, unknown>): string {
  const parsed = JSON.parse(text) as { functions?: Record<string, unknown> };
  const want = JSON.stringify({ ...parsed, functions: { ...parsed.functions, [name]: spec } });
  const unit = indentUnit(text);
  try {
    const edited = insertText(text, name, spec, unit);
    if (edited !== undefined && JSON.stringify(JSON.parse(edited)) === want) return edited;
  } catch {
    // fall through to re-serialising
  }
  return `${JSON.stringify(JSON.parse(want), null, unit)}\n`;
}

function insertText(text: string, name: string, spec: Record<string, unknown>, unit: string): string | undefined {
  const fns = functionsObject(text);
  if (!fns) return undefined;
  const inner = text.slice(fns.open + 1, fns.close);
  const key = JSON.stringify(name);
  if (inner.trim() === "") {
    const style = styleOf(text);
    const entry = `${key}${style.colon}${oneLine(spec, style)}`;
    if (!text.trim().includes("\n")) return `${text.slice(0, fns.open + 1)}${entry}${text.slice(fns.close)}`;
    const outer = lineIndent(text, fns.open);
    return `${text.slice(0, fns.open + 1)}\n${outer}${unit}${entry}\n${outer}${text.slice(fns.close)}`;
  }
  const firstKey = fns.open + 1 + (inner.length - inner.trimStart().length);
  const end = fns.open + 1 + inner.trimEnd().length; // just after the last entry's value
  const firstEntry = text.slice(firstKey, fns.firstValueEnd);
  const style = styleOf(firstEntry);
  const onSameLine = !text.slice(fns.open, firstKey).includes("\n");
  const indent = onSameLine ? "" : lineIndent(text, firstKey);
  const value = firstEntry.includes("\n") ? JSON.stringify(spec, null, unit).replace(/\n/g, `\n${indent}`) : oneLine(spec, style);
  const sep = onSameLine ? style.comma : `,\n${indent}`;
  return `${text.slice(0, end)}${sep}${key}${style.colon}${value}${text.slice(end)}`;
}

interface Style {
  /** After `{` and before `}`: " " or "". */
  brace: string;
  colon: string;
  comma: string;
}

/** How a sample of the file spaces its one-line objects: `{ "a": 1, "b": 2 }` or `{"a":1,"b":2}`. */
function styleOf(text: string): Style {
  const sample = text.replace(/"(?:[^"\\]|\\.)*"/g, '""'); // what strings hold is not layout
  const colon = /"[ \t]*:[ \t]/.test(sample) ? ": " : ":";
  // with no example in the sample, follow the colon: spaced colons, spaced everything
  const pick = (spaced: RegExp, tight: RegExp, space: string) => (spaced.test(sample) ? space : tight.test(sample) ? space.trim() : colon === ": " ? space : space.trim());
  return { colon, brace: pick(/\{[ \t]+"/, /\{"/, " "), comma: pick(/,[ \t]+"/, /,"/, ", ") };
}

function oneLine(v: Record<string, unknown>, s: Style): string {
  const fields = Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}${s.colon}${JSON.stringify(x)}`);
  return `{${s.brace}${fields.join(s.comma)}${s.brace}}`;
}

/** The leading whitespace of the line holding `at`. */
function lineIndent(text: string, at: number): string {
  const start = text.lastIndexOf("\n", at - 1) + 1;
  return /^[ \t]*/.exec(text.slice(start))![0];
}

/** The first indented line's indent (a tab or N spaces); two spaces for a one-line file. */
function indentUnit(text: string): string {
  return /\n([ \t]+)\S/.exec(text)?.[1] ?? "  ";
}

/**
 * Positions in `text` of the top-level "functions" object's braces, and where its first
 * entry's value ends. Strings are skipped whole, so braces inside them do not count.
 */
function functionsObject(text: string): { open: number; close: number; firstValueEnd: number } | undefined {
  let depth = 0;
  let lastString = "";
  let open = -1;
  let firstValueEnd = -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      const end = stringEnd(text, i);
      lastString = text.slice(i, end + 1);
      i = end;
      continue;
    }
    if (ch === "{" || ch === "[") {
      if (ch === "{" && depth === 1 && lastString === '"functions"' && open < 0) open = i;
      depth++;
    } else if (ch === "}" || ch === "]") {
      depth--;
      if (open >= 0 && depth === 2 && firstValueEnd < 0) firstValueEnd = i + 1;
      if (open >= 0 && depth === 1) return { open, close: i, firstValueEnd: firstValueEnd < 0 ? i : firstValueEnd };
    } else if (ch === "," && open >= 0 && depth === 2 && firstValueEnd < 0) {
      firstValueEnd = i; // the first entry's value was not an object
    } else if (ch !== ":" && !/\s/.test(ch!)) {
      if (depth === 1) lastString = "";
    }
  }
  return undefined;
}

function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return i;
  }
  return text.length;
}
