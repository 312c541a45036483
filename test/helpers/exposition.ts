/** Reads samples out of a Prometheus text exposition, undoing label-value escapes (\\, \", \n). */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  line: string;
}

export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    const v = m[3]!;
    out.push({ name: m[1]!, labels, value: v === "+Inf" ? Infinity : v === "-Inf" ? -Infinity : Number(v), line });
  }
  return out;
}

/** The samples named `name` whose labels include `match`. */
export function find(samples: Sample[], name: string, match: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** The one sample's value (0 when there is none; more than one is an error). */
export function value(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  const got = find(samples, name, match);
  if (got.length > 1) throw new Error(`${got.length} samples of ${name} match ${JSON.stringify(match)}`);
  return got[0]?.value ?? 0;
}
