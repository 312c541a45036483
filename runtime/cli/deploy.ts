/**
 * `lanes deploy`, `lanes versions`, `lanes promote`, `lanes rollback`: the admin API from the
 * command line. `deploy` validates and bundles the folder here first, so a broken manifest or
 * a compile error never reaches the host. Every command prints for people, or with `--json`
 * one JSON object for scripts (`{"error": {...}}` when it fails, with exit code 1, or 2 for a usage error).
 */
import type { RuntimeAdapter } from "../../adapters/types.ts";
import { describeDeployment, HISTORY_KEPT, type Deployment, type HostRecord } from "../deploy/model.ts";
import { packFolder } from "../deploy/pack.ts";
import { ifVersionField, messageField, tagField, uploadBody } from "../deploy/upload.ts";
import { LanesError } from "../errors.ts";
import { escapeControls } from "../log.ts";
import type { SwitchResult } from "../host/deployer.ts";
import { AdminError, adminFor, jsonError, jsonErrorCode } from "./admin-client.ts";
import { intFlag, numberFlag, parseArgs, stringFlag, type FlagSpec, type Parsed } from "./args.ts";
import { folderArg } from "./dir.ts";
import { hostsTable, waitForHosts, waitText } from "./wait-hosts.ts";

const COMMON = { to: "string", "token-file": "string", json: "boolean" } as const;

interface VersionsAnswer {
  active: Deployment;
  versions: { id: string; createdAt: string; tag: string | null; message: string | null; author: string; files: number; percent: number }[];
  deployments: Deployment[];
  /** On a shared store: every live host. */
  hosts?: HostRecord[];
  /** On a shared store that no longer holds the active deployment (wiped): why, and what to do. */
  storeLost?: string;
  /** How many of the newest versions the host keeps (absent from an older host). */
  keepVersions?: number;
}

const WAIT = { wait: "boolean", "wait-timeout": "string" } as const;

/** The flags of `lanes deploy`, `versions`, `promote` and `rollback`. */
export function deployFlags(command: string): FlagSpec {
  return command === "deploy"
    ? { ...COMMON, ...WAIT, tag: "string", message: "string", percent: "string", "if-version": "string", "auto-rollback": "boolean" }
    : command === "versions"
      ? COMMON
      : { ...COMMON, ...WAIT, "if-version": "string" };
}

export async function deployCommand(adapter: RuntimeAdapter, command: string, argv: string[]): Promise<number> {
  const flags = deployFlags(command);
  let json = argv.includes("--json");
  try {
    const args = parseArgs(argv, flags, command);
    json = args.flags.json === true;
    const out = await run(adapter, command, args);
    // control characters as \xNN: what another host says of a version it did not load quotes
    // the function's error, and its escape sequences went to the terminal as they were
    adapter.writeOut(json ? `${JSON.stringify(out.json, null, 2)}\n` : escapeControls(out.text));
    return out.ok === false ? 1 : 0;
  } catch (e) {
    if (!json) throw e;
    adapter.writeOut(jsonError(e));
    return jsonErrorCode(e);
  }
}

async function run(adapter: RuntimeAdapter, command: string, args: Parsed): Promise<{ json: unknown; text: string; ok?: boolean }> {
  // checked before anything is sent: a bad --wait-timeout was reported, exit 2, after the deploy was done
  const timeoutMs = waitTimeoutOf(args, command);
  const out = await switchOrList(adapter, command, args);
  if (timeoutMs === undefined) return out;
  // --wait: every live host of the shared store serves the new deployment, or why not
  const r = out.json as SwitchResult;
  const wait = await waitForHosts(await adminFor(adapter, args, command), r.deployment, timeoutMs);
  return { json: { ...(out.json as object), wait }, text: out.text + waitText(wait), ok: wait.ok };
}

async function switchOrList(adapter: RuntimeAdapter, command: string, args: Parsed): Promise<{ json: unknown; text: string }> {
  const positional = (max: number, what: string) => {
    if (args.positionals.length > max)
      throw new LanesError("invalid_flag", `lanes ${command}: unexpected ${JSON.stringify(args.positionals[max])} (usage: lanes ${command} ${what})`);
    return args.positionals[0];
  };
  switch (command) {
    case "deploy": {
      const dir = await folderArg(adapter, positional(1, "[dir] --to URL"));
      const percent = percentOf(args);
      const ifVersion = ifVersionOf(args, command);
      // the host refused them only once the whole folder was uploaded, as "tag: ..." and exit 1
      const tag = flagValue(command, () => tagField(stringFlag(args, "tag", "") || null, "--tag"));
      const message = flagValue(command, () => messageField(stringFlag(args, "message", "") || null, "--message"));
      const admin = await adminFor(adapter, args, command);
      const t0 = performance.now();
      const packed = await packFolder(dir, adapter.sys, adapter.name);
      const packMs = Math.round(performance.now() - t0);
      const body = uploadBody(packed.files, {
        tag,
        message,
        percent,
        ifVersion,
        autoRollback: args.flags["auto-rollback"] === true,
      });
      const t1 = performance.now();
      const r = await admin.call<SwitchResult>("POST", "deploy", body).catch((e: unknown) => {
        if (!(e instanceof AdminError && e.httpStatus === 413)) throw e;
        // the granted files travel too: say what made the upload this large
        const granted = packed.granted.files > 0 ? `, ${kb(packed.granted.bytes)} of it in ${packed.granted.files} granted file(s)` : "";
        throw new AdminError(e.httpStatus, e.hostCode, `${e.message}; this upload is ${kb(body.length)} (the files in base64${granted})`);
      });
      const totalMs = Math.round(performance.now() - t1);
      const d = r.deployment;
      return {
        json: { ...r, uploadBytes: body.length, packMs, totalMs },
        text:
          `validated ${packed.manifest.file}: ${packed.manifest.functions.length} function(s), ${kb(packed.bytes)} bundled in ${packMs} ms` +
          `${packed.granted.files > 0 ? ` (${packed.granted.files} granted file(s), ${kb(packed.granted.bytes)})` : ""}\n` +
          `deployed ${r.version} to ${admin.base} (deployment ${d.revision}): ${describeDeployment(d)}${d.canary?.autoRollback ? ", auto-rollback on" : ""}\n` +
          `  changed: ${r.changed.join(", ") || "none"}${r.unchanged.length ? `; unchanged: ${r.unchanged.join(", ")}` : ""}\n` +
          `  switched in ${r.switchMs} ms (loaded in ${r.loadMs} ms; upload to serving ${totalMs} ms)\n`,
      };
    }
    case "versions": {
      positional(0, "--to URL");
      const admin = await adminFor(adapter, args, command);
      const r = await admin.call<VersionsAnswer>("GET", "versions");
      return { json: r, text: versionsText(r) };
    }
    case "promote": {
      positional(0, "--to URL");
      const admin = await adminFor(adapter, args, command);
      const r = await admin.call<SwitchResult>("POST", "promote", { ifVersion: ifVersionOf(args, command) });
      return { json: r, text: `promoted ${r.version} to 100% (deployment ${r.deployment.revision}) in ${r.switchMs} ms\n` };
    }
    case "rollback": {
      const version = positional(1, "[VERSION] --to URL") ?? null;
      if (version !== null) flagValue(command, () => ifVersionField(version, "VERSION"));
      const admin = await adminFor(adapter, args, command);
      const r = await admin.call<SwitchResult>("POST", "rollback", { version, ifVersion: ifVersionOf(args, command) });
      return {
        json: r,
        text: `rolled back to ${r.version} at 100% (deployment ${r.deployment.revision}): switched in ${r.switchMs} ms (loaded in ${r.loadMs} ms)\n`,
      };
    }
  }
  throw new LanesError("invalid_flag", `lanes: unknown command "${command}"`);
}

function percentOf(args: Parsed): number {
  return intFlag(args, "percent", 100, "deploy", 1, 100);
}

function ifVersionOf(args: Parsed, command: string): string | null {
  const v = args.flags["if-version"];
  return v === undefined ? null : flagValue(command, () => ifVersionField(v, "--if-version"));
}

/** A value the upload's own check refuses, as a usage error that names the flag (exit 2). */
function flagValue<T>(command: string, check: () => T): T {
  try {
    return check();
  } catch (e) {
    throw new LanesError("invalid_flag", `lanes ${command}: ${(e as Error).message}`);
  }
}

/** `--wait-timeout S` (only with --wait), in ms; undefined without --wait. */
function waitTimeoutOf(args: Parsed, command: string): number | undefined {
  if (command === "versions") return undefined;
  if (args.flags.wait !== true) {
    if (args.flags["wait-timeout"] !== undefined) throw new LanesError("invalid_flag", `lanes ${command}: --wait-timeout is how long --wait waits: give --wait too`);
    return undefined;
  }
  return numberFlag(args, "wait-timeout", 30, command, 0.1, 3600, "a number of seconds") * 1000;
}

function versionsText(r: VersionsAnswer): string {
  const a = r.active;
  const lines = [
    `active: deployment ${a.revision} (${a.reason} by ${a.author}, ${a.createdAt}): ${describeDeployment(a)}` +
      (a.canary ? `; changed: ${a.canary.changed.join(", ") || "none"}${a.canary.autoRollback ? "; auto-rollback on" : ""}` : ""),
    "",
    table(
      ["VERSION", "SERVING", "CREATED", "AUTHOR", "TAG", "MESSAGE"],
      r.versions.map((v) => [v.id, v.percent ? `${v.percent}%` : "-", v.createdAt, v.author, v.tag ?? "", (v.message ?? "").split("\n")[0]!.slice(0, 60)]),
    ),
    "",
    table(
      ["DEPLOYMENT", "CREATED", "REASON", "AUTHOR", "VERSIONS"],
      r.deployments.map((d) => [String(d.revision), d.createdAt, d.reason, d.author, describeDeployment(d)]),
    ),
    ...(r.keepVersions
      ? ["", `kept: the newest ${r.keepVersions} versions (lanes start --keep-versions), and those a deployment uses; the newest ${HISTORY_KEPT} deployments`]
      : []),
    ...(r.hosts ? ["", hostsTable(r.hosts, table)] : []),
    ...(r.storeLost ? ["", `warning: ${r.storeLost}`] : []),
  ];
  return `${lines.join("\n")}\n`;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}
