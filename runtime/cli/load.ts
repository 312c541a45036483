/**
 * `lanes load URL`: load-test any HTTP endpoint. This file only reads and checks the flags; the
 * load generator is in loadtest/load/, outside the runtime-agnostic core, because it drives
 * autocannon and node:http (imported only when the command runs).
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import type { LoadReport } from "../../loadtest/load/report.ts";
import { LanesError } from "../errors.ts";
import { intFlag, numberFlag, parseArgs, stringFlag, type Parsed } from "./args.ts";

const FLAGS = {
  rate: "string",
  connections: "string",
  "max-connections": "string",
  duration: "string",
  timeout: "string",
  method: "string",
  header: "list",
  body: "string",
  "body-file": "string",
  threshold: "list",
  json: "string",
  out: "string",
  compare: "string",
} as const;

export { FLAGS as LOAD_FLAGS };

const EXAMPLE = "lanes load http://127.0.0.1:8787/hello --rate 200 --duration 10";
// an HTTP token (RFC 9110, section 5.6.2): what a method or a header name may be made of
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export async function loadCommand(adapter: RuntimeAdapter, argv: string[]): Promise<number> {
  const load = await import("../../loadtest/load/mod.ts");
  const args = parseArgs(argv, FLAGS, "load", 1);
  const url = urlArg(args);
  const open = args.flags.rate !== undefined;
  if (open && args.flags.connections !== undefined) {
    throw new LanesError("invalid_flag", "lanes load: --rate (open model) and --connections (closed model) choose the model: give one of them");
  }
  if (!open && args.flags["max-connections"] !== undefined) {
    throw new LanesError("invalid_flag", "lanes load: --max-connections bounds the open model's connections: it goes with --rate (the closed model takes --connections)");
  }
  const timeoutS = numberFlag(args, "timeout", load.DEFAULTS.timeoutS, "load", open ? 0.1 : 1, 3600, "a number of seconds");
  const body = await bodyOf(adapter, args, load.readBodyFile);
  const method = methodOf(args, body !== undefined);
  const thresholds = args.lists.threshold?.map((expr) => {
    const t = load.parseThreshold(expr);
    if ("error" in t) throw new LanesError("invalid_flag", `lanes load: --threshold ${JSON.stringify(expr)}: ${t.error}. A threshold is ${load.THRESHOLD_GRAMMAR}`);
    return t;
  });
  const baseline = await baselineOf(adapter, args, load.readBaseline);
  await outputsOf(adapter, args);
  const interrupt = stopOnSignal(adapter);

  const outcome = await load.runLoad(
    {
      target: { ...credentialsOf(url, headersOf(args)), method, body },
      model: open ? "open" : "closed",
      rate: open ? numberFlag(args, "rate", 0, "load", 0.1, 100_000, "a number of requests per second") : null,
      connections: open
        ? intFlag(args, "max-connections", load.DEFAULTS.maxConnections, "load", 1, 10_000)
        : intFlag(args, "connections", load.DEFAULTS.connections, "load", 1, 10_000),
      durationS: numberFlag(args, "duration", load.DEFAULTS.durationS, "load", 0.1, 3600, "a number of seconds"),
      timeoutS,
      thresholds: thresholds ?? [],
      ...(args.flags.json !== undefined ? { jsonFile: stringFlag(args, "json", "") } : {}),
      ...(args.flags.out !== undefined ? { outDir: stringFlag(args, "out", "") } : {}),
      ...(baseline ? { baseline } : {}),
      command: `lanes load ${shownArgs(argv, args.positionals[0]!, load.shownUrl(url)).join(" ")}`,
      stop: interrupt.signal,
    },
    { runtime: adapter.name, version: adapter.version },
    { write: adapter.writeErr },
  );
  adapter.writeOut(outcome.text);
  const failed = outcome.failedThresholds;
  if (failed.length > 0) {
    adapter.writeErr(`lanes load: ${failed.length} of ${outcome.report.thresholds.length} thresholds failed: ${failed.map((t) => `${t.expr} (${t.text})`).join(", ")}\n`);
  }
  // a cut-short run did not do what was asked, whatever its thresholds say (as a shell's 128 + signal)
  if (interrupt.by) return interrupt.by === "SIGINT" ? 130 : 143;
  return failed.length > 0 ? 1 : 0;
}

/**
 * Ctrl-C (or SIGTERM) stops the run and prints the figures measured so far, as k6 and hey do:
 * without this the process died with nothing printed, the whole run lost. A second one quits at once.
 */
function stopOnSignal(adapter: RuntimeAdapter): { signal: AbortSignal; by?: "SIGINT" | "SIGTERM" } {
  const controller = new AbortController();
  const state: { signal: AbortSignal; by?: "SIGINT" | "SIGTERM" } = { signal: controller.signal };
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    adapter.onSignal(name, () => {
      if (state.by) adapter.exit(name === "SIGINT" ? 130 : 143);
      state.by = name;
      adapter.writeErr(`\nlanes load: ${name === "SIGINT" ? "interrupted" : "terminated"}: stopping the run, the figures so far follow (again to quit at once)\n`);
      controller.abort();
    });
  }
  return state;
}

function urlArg(args: Parsed): URL {
  if (args.positionals.length !== 1) {
    throw new LanesError("invalid_flag", `lanes load: give one URL to load (got ${args.positionals.length ? args.positionals.join(" ") : "none"}), e.g. ${EXAMPLE}`);
  }
  const raw = args.positionals[0]!;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new LanesError("invalid_flag", `lanes load: URL must be an absolute http:// or https:// URL (got ${JSON.stringify(raw)}), e.g. ${EXAMPLE}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new LanesError("invalid_flag", `lanes load: URL must be http:// or https:// (got ${url.protocol})`);
  }
  return url;
}

function methodOf(args: Parsed, hasBody: boolean): string {
  const m = stringFlag(args, "method", hasBody ? "POST" : "GET");
  if (!TOKEN.test(m)) throw new LanesError("invalid_flag", `lanes load: --method must be an HTTP method such as GET or POST (got ${JSON.stringify(m)})`);
  return m.toUpperCase();
}

function headersOf(args: Parsed): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const h of args.lists.header ?? []) {
    const colon = h.indexOf(":");
    const name = h.slice(0, Math.max(0, colon)).trim();
    if (colon < 0 || !TOKEN.test(name)) {
      throw new LanesError("invalid_flag", `lanes load: --header must be "name: value" with a valid header name (got ${JSON.stringify(h)})`);
    }
    const value = h.slice(colon + 1).trim();
    // a line break, another control character or one past Latin-1: the HTTP client refused it, with a stack trace
    if (/[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]/.test(value)) {
      throw new LanesError(
        "invalid_flag",
        `lanes load: --header ${JSON.stringify(name)}: its value may not hold a line break, another control character or a character past Latin-1 (percent-encode it) (got ${JSON.stringify(h)})`,
      );
    }
    headers[name.toLowerCase()] = value;
  }
  return headers;
}

async function bodyOf(adapter: RuntimeAdapter, args: Parsed, read: (file: string) => Uint8Array): Promise<Uint8Array | undefined> {
  const text = args.flags.body;
  const file = args.flags["body-file"];
  if (text !== undefined && file !== undefined) throw new LanesError("invalid_flag", "lanes load: give --body or --body-file, not both");
  if (typeof text === "string") return new TextEncoder().encode(text);
  if (typeof file !== "string") return undefined;
  if (!(await adapter.sys.isFile(file))) throw new LanesError("invalid_flag", `lanes load: --body-file ${JSON.stringify(file)} is not a file`);
  return read(file);
}

async function baselineOf(adapter: RuntimeAdapter, args: Parsed, read: (file: string) => LoadReport | { error: string }) {
  const file = args.flags.compare;
  if (typeof file !== "string") return undefined;
  if (!(await adapter.sys.isFile(file)))
    throw new LanesError("invalid_flag", `lanes load: --compare ${JSON.stringify(file)} is not a file (give the JSON of an earlier run: --json FILE)`);
  const report = read(file);
  if ("error" in report) throw new LanesError("invalid_flag", `lanes load: --compare ${JSON.stringify(file)}: ${report.error}`);
  return { file, report };
}

/**
 * The report is written once the run is over: a --json that is a folder, or an --out that is a
 * file, would have thrown the run's results away (with a stack trace) after all its load.
 */
async function outputsOf(adapter: RuntimeAdapter, args: Parsed): Promise<void> {
  const { sys } = adapter;
  const fail = (flag: string, path: string, why: string) => new LanesError("invalid_flag", `lanes load: --${flag} ${JSON.stringify(path)} ${why}`);
  const mkdirp = async (flag: string, path: string, dir: string) => {
    try {
      await sys.mkdirp(dir);
    } catch (e) {
      throw fail(flag, path, `cannot be written: its folder ${JSON.stringify(dir)} cannot be made (${e instanceof Error ? e.message : String(e)})`);
    }
  };
  const json = args.flags.json;
  if (typeof json === "string") {
    const kind = await sys.entryKind(json);
    if (json === "") throw fail("json", json, "needs a file path");
    if (kind === "folder") throw fail("json", json, "is a folder: give the path of a file, e.g. --json load.json (--out DIR writes load.json and load.svg into a folder)");
    if (kind === "other") throw fail("json", json, "is not a regular file");
    await mkdirp("json", json, sys.dirname(sys.resolve(json)));
  }
  const out = args.flags.out;
  if (typeof out === "string") {
    const kind = await sys.entryKind(out);
    if (out === "") throw fail("out", out, "needs a folder path");
    if (kind !== undefined && kind !== "folder" && kind !== "link") throw fail("out", out, "is not a folder: give the folder to write load.json and load.svg into");
    await mkdirp("out", out, sys.resolve(out));
  }
}

/**
 * The command line as the JSON records it: header values and the body may hold credentials
 * (the report keeps header names only), and so may a password in the URL (`url`: it shown).
 */
function shownArgs(argv: string[], rawUrl: string, url: string): string[] {
  const shown: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const hide =
      flag === "--header"
        ? (v: string) => JSON.stringify(`${v.slice(0, Math.max(0, v.indexOf(":")))}: …`)
        : flag === "--body"
          ? (v: string) => `<${new TextEncoder().encode(v).byteLength} bytes>`
          : undefined;
    if (hide && eq >= 0) shown.push(`${flag}=${hide(arg.slice(eq + 1))}`);
    else if (hide && i + 1 < argv.length) shown.push(flag, hide(argv[++i]!));
    else shown.push(arg === rawUrl ? url : arg);
  }
  return shown;
}

/**
 * A user and password in the URL are sent as Basic auth, as curl does: the probe and the open
 * model dropped them (a 401 for every request) while autocannon sent them. An `authorization`
 * header given with --header wins. The URL loaded, and shown, is the one without them.
 */
function credentialsOf(url: URL, headers: Record<string, string>): { url: URL; headers: Record<string, string> } {
  if (!url.username && !url.password) return { url, headers };
  const bare = new URL(url.href);
  bare.username = "";
  bare.password = "";
  if (headers.authorization !== undefined) return { url: bare, headers };
  const pair = new TextEncoder().encode(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`);
  return { url: bare, headers: { ...headers, authorization: `Basic ${btoa(String.fromCharCode(...pair))}` } };
}
