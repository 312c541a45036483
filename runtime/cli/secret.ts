/**
 * `lanes secret set NAME [--function f]`, `lanes secret list`, `lanes secret delete NAME
 * [--function f]`, all `--to URL`: secrets on a host with a deploy store and a secrets key. The
 * value comes from stdin only, never from the command line (where `ps` and shell history would
 * keep it); no output ever holds it.
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { LanesError } from "../errors.ts";
import type { SecretChange } from "../host/secret-keeper.ts";
import { checkFunctionName, checkSecretName, checkSecretValue, MAX_SECRET_BYTES, type SecretInfo } from "../secrets/model.ts";
import { adminFor, jsonError, jsonErrorCode } from "./admin-client.ts";
import { parseArgs, type Parsed } from "./args.ts";

const USAGE = "lanes secret set NAME [--function f] --to URL | lanes secret list --to URL | lanes secret delete NAME [--function f] --to URL";
const COMMON = { to: "string", "token-file": "string", json: "boolean" } as const;
/** Every flag of `lanes secret` (list takes all but --function). */
export const SECRET_FLAGS = { ...COMMON, function: "string" } as const;

export async function secretCommand(adapter: RuntimeAdapter, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  let json = rest.includes("--json");
  try {
    // `lanes secret --bogus`: a flag where the subcommand goes is a flag error, said as such
    if (sub?.startsWith("-")) parseArgs([sub], SECRET_FLAGS, "secret");
    if (sub !== "set" && sub !== "list" && sub !== "delete") {
      throw new LanesError("invalid_flag", `lanes secret: ${sub === undefined ? "set, list or delete?" : `unknown subcommand ${JSON.stringify(sub)}`} (usage: ${USAGE})`);
    }
    const args = parseArgs(rest, sub === "list" ? COMMON : SECRET_FLAGS, `secret ${sub}`);
    json = args.flags.json === true;
    const out = await run(adapter, sub, args);
    adapter.writeOut(json ? `${JSON.stringify(out.json, null, 2)}\n` : out.text);
    // kept, but not served everywhere: a script must not take it for done
    return (out.json as SecretChange).unreadableOn?.length ? 1 : 0;
  } catch (e) {
    if (!json) throw e;
    adapter.writeOut(jsonError(e));
    return jsonErrorCode(e);
  }
}

async function run(adapter: RuntimeAdapter, sub: "set" | "list" | "delete", args: Parsed): Promise<{ json: unknown; text: string }> {
  const command = `secret ${sub}`;
  const max = sub === "list" ? 0 : 1;
  if (args.positionals.length !== max) {
    throw new LanesError(
      "invalid_flag",
      `lanes ${command}: ${args.positionals.length > max ? `unexpected ${JSON.stringify(args.positionals[max])}` : "NAME is required"} (usage: ${USAGE})`,
    );
  }
  const flag = (e: unknown) => new LanesError("invalid_flag", `lanes ${command}: ${(e as Error).message}`);
  let name = "";
  let fn: string | null = null;
  try {
    if (sub !== "list") name = checkSecretName(args.positionals[0], "NAME");
    fn = checkFunctionName(args.flags.function, "--function");
  } catch (e) {
    throw flag(e);
  }
  const scope = fn === null ? "" : `?function=${encodeURIComponent(fn)}`;
  const what = `${name}${fn === null ? "" : ` (function ${fn})`}`;
  if (sub === "list") {
    const admin = await adminFor(adapter, args, command);
    const r = await admin.call<{ secrets: (SecretInfo & { usedBy: string[] })[] }>("GET", "secrets");
    return { json: r, text: listText(r.secrets) };
  }
  if (sub === "delete") {
    const admin = await adminFor(adapter, args, command);
    const r = await admin.call<SecretChange>("DELETE", `secrets/${name}${scope}`);
    return { json: r, text: `deleted ${what} on ${admin.base}${restarted(r)}\n` };
  }
  const value = await valueFromStdin(adapter, command);
  const admin = await adminFor(adapter, args, command);
  const r = await admin.call<SecretChange>("PUT", `secrets/${name}${scope}`, { value });
  return { json: r, text: `set ${what} on ${admin.base}${restarted(r)}\n${unreadableText(r)}` };
}

/** The value on stdin, without one trailing newline (what `echo` and most editors add). */
async function valueFromStdin(adapter: RuntimeAdapter, command: string): Promise<string> {
  const how = `pipe it in, e.g. printf %s "$VALUE" | lanes ${command} NAME --to URL, or < FILE`;
  let bytes: Uint8Array | undefined;
  try {
    bytes = await adapter.readStdin(4 * MAX_SECRET_BYTES);
  } catch (e) {
    throw new LanesError("invalid_flag", `lanes ${command}: the value on stdin is too long: ${(e as Error).message} (at most ${MAX_SECRET_BYTES})`);
  }
  if (!bytes) throw new LanesError("invalid_flag", `lanes ${command}: the value is read from stdin, never from the command line: ${how}`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new LanesError("invalid_flag", `lanes ${command}: the value on stdin is not UTF-8 text`);
  } finally {
    bytes.fill(0);
  }
  try {
    return checkSecretValue(text.replace(/\r?\n$/, ""), "the value on stdin");
  } catch (e) {
    throw new LanesError("invalid_flag", `lanes ${command}: ${(e as Error).message}${text === "" ? ` (${how})` : ""}`);
  }
}

function restarted(r: SecretChange): string {
  if (r.restarted.length === 0) return "; no serving function uses it";
  return `; restarted ${r.restarted.join(", ")} onto it (started in ${r.loadMs} ms, switched in ${r.switchMs} ms)`;
}

/** The other hosts that cannot open the value just set (their records say they lack its key). */
function unreadableText(r: SecretChange): string {
  const on = r.unreadableOn ?? [];
  if (on.length === 0) return "";
  const lines = on.map((h) => `  ${h.url} (${h.runtime}): ${h.keyIds ? `has key id(s) ${h.keyIds.join(", ")} only` : "has no --secrets-key-file"}`);
  return (
    `error: ${on.length} other live host(s) cannot open it (sealed with a key they do not have) and keep serving the value they had:\n${lines.join("\n")}\n` +
    "  restart them with a key file that holds this host's key (see lanes versions for what each host cannot open)\n"
  );
}

function listText(secrets: (SecretInfo & { usedBy: string[] })[]): string {
  if (secrets.length === 0) return "no secrets\n";
  const rows = secrets.map((s) => [s.name, s.function ?? "(every function)", s.updatedAt, s.author, s.usedBy.join(", ") || "-"]);
  const head = ["NAME", "FOR", "UPDATED", "BY", "USED BY"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return `${[head, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}
