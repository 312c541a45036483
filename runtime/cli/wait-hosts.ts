/**
 * `lanes deploy --wait`: after the switch, wait until every live host of a shared store serves
 * the new deployment (read from their records, GET /_lanes/api/hosts), or say which did not and
 * why: it could not load the version (its error), it is still loading, or it is still on an
 * older deployment when the time is up.
 */
import type { Deployment, HostRecord } from "../deploy/model.ts";
import { AdminError, type Admin } from "./admin-client.ts";

export interface WaitOutcome {
  ok: boolean;
  revision: number;
  hosts: HostRecord[];
  /** From the first host's switch to the last one's (their clocks), when all switched. */
  allSwitchedMs: number | null;
  /** False: the host's store is its own (`--data`), and the answer to the switch was the wait. */
  shared: boolean;
  notSwitched: { url: string; runtime: string; why: string }[];
}

export async function waitForHosts(admin: Admin, d: Deployment, timeoutMs: number): Promise<WaitOutcome> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const answer = await admin.call<{ hosts: HostRecord[] }>("GET", "hosts").catch((e: unknown) => {
      // a host on a store of its own (--data) has switched when it answers: no one else to wait for
      if (e instanceof AdminError && e.httpStatus === 404 && e.hostCode === "not_found") return undefined;
      throw e;
    });
    if (!answer) return { ok: true, revision: d.revision, hosts: [], allSwitchedMs: null, shared: false, notSwitched: [] };
    const { hosts } = answer;
    const behind = hosts.filter((h) => h.revision < d.revision);
    const failed = behind.filter((h) => (h.failed?.revision ?? 0) >= d.revision);
    if (behind.length === 0 || failed.length === behind.length || Date.now() >= end) {
      const at = hosts.filter((h) => h.revision >= d.revision).map((h) => Date.parse(h.switchedAt));
      return {
        ok: behind.length === 0,
        revision: d.revision,
        hosts,
        allSwitchedMs: behind.length === 0 && at.length > 0 ? Math.max(...at) - Math.min(...at) : null,
        shared: true,
        notSwitched: behind.map((h) => ({ url: h.url, runtime: h.runtime, why: whyBehind(h, d, timeoutMs) })),
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function whyBehind(h: HostRecord, d: Deployment, timeoutMs: number): string {
  if (h.failed && h.failed.revision >= d.revision) return `deployment ${h.failed.revision} did not load there: ${h.failed.error}`;
  const still = `still serves deployment ${h.revision} (${h.serving}) after ${timeoutMs / 1000} s`;
  if (h.loading) return `${still}; loading deployment ${h.loading.revision} since ${h.loading.since}`;
  return `${still}; it has not started on the new one (is its way to the store cut?)`;
}

export function waitText(w: WaitOutcome): string {
  if (!w.shared) return `  the host's store is its own (no other hosts): it serves deployment ${w.revision}\n`;
  if (w.ok) return `  all ${w.hosts.length} live host(s) serve deployment ${w.revision}, the last ${w.allSwitchedMs} ms after the first\n`;
  const lines = w.notSwitched.map((n) => `    ${n.url} (${n.runtime}): ${n.why}`);
  return `  ${w.hosts.length - w.notSwitched.length} of ${w.hosts.length} live host(s) serve deployment ${w.revision}; not:\n${lines.join("\n")}\n`;
}

export function hostsTable(hosts: HostRecord[], table: (head: string[], rows: string[][]) => string): string {
  return table(
    ["HOST", "RUNTIME", "DEPLOYMENT", "SERVING", "SWITCHED", "SWITCH MS", "STATE"],
    hosts.map((h) => [h.url, `${h.runtime} ${h.runtimeVersion}`, String(h.revision), h.serving, h.switchedAt, h.switchMs === null ? "-" : String(h.switchMs), hostState(h)]),
  );
}

function hostState(h: HostRecord): string {
  const states = [
    ...(h.loading ? [`loading deployment ${h.loading.revision}`] : h.failed ? [`deployment ${h.failed.revision} failed: ${h.failed.error.split("\n")[0]!.slice(0, 80)}`] : []),
    // names only: what it serves may be a value replaced since
    ...(h.secrets?.error ? [`cannot open ${h.secrets.unreadable.join(", ") || "the store's secrets"}: ${h.secrets.error}`] : []),
  ];
  return states.join("; ") || "ok";
}
