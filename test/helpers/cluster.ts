/**
 * For the cluster suite: `lanes start --store etcd://...` hosts on a runtime each (not only the
 * one running the test), and what their records say.
 */
import { fileURLToPath } from "node:url";
import { hostEnvironment } from "../../adapters/env.ts";
import type { HostRecord } from "../../runtime/deploy/model.ts";
import { api, hostHandle, listeningUrl, type StoreHost } from "./deploy.ts";
import { spawnProcess } from "./spawn.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const cli = `${root}runtime/cli/lanes.ts`;
const bin = (name: string) => `${root}node_modules/.bin/${name}`;

export type Runtime = "node" | "bun" | "deno";

export function lanesCommand(runtime: Runtime, args: string[]): [string, string[]] {
  switch (runtime) {
    case "node":
      return [process.execPath, [`${root}bin/lanes.mjs`, ...args]];
    case "bun":
      return [bin("bun"), [cli, ...args]];
    case "deno":
      return [bin("deno"), ["run", "-A", cli, ...args]];
  }
}

export interface ClusterHost extends StoreHost {
  runtime: Runtime;
}

/** `lanes start DIR --store STORE --port 0 ...` on `runtime`, once it says `listening on`. */
export async function startClusterHost(runtime: Runtime, dir: string, store: string, extra: string[] = []): Promise<ClusterHost> {
  const [cmd, argv] = lanesCommand(runtime, ["start", dir, "--store", store, "--port", "0", ...extra]);
  const child = spawnProcess(cmd, argv, { ...hostEnvironment(runtime), NO_COLOR: "1" });
  let out = "";
  child.onOutput((t) => {
    out += t;
    if (process.env.LANES_TEST_VERBOSE) process.stderr.write(`[${runtime}] ${t}`);
  });
  return { runtime, ...hostHandle(child, await listeningUrl(child, () => out, `${runtime}: lanes start`), () => out) };
}

export async function hostRecords(url: string): Promise<HostRecord[]> {
  const r = await api(url, "GET", "hosts");
  if (r.status !== 200) throw new Error(`GET hosts: ${r.status} ${r.text}`);
  return r.json.hosts as HostRecord[];
}

export async function health(url: string): Promise<{ status: number; body: Record<string, unknown> & { status: string } }> {
  const res = await fetch(`${url}/_lanes/health`);
  return { status: res.status, body: (await res.json()) as { status: string } };
}

/** Poll `check` every 50 ms until it holds (returns true) or `ms` pass; returns whether it held. */
export async function eventually(check: () => Promise<boolean> | boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
