/**
 * A real etcd for the cluster suites: the `etcd` binary (Debian's etcd-server; .ci/run installs
 * it), one member on 127.0.0.1 with free ports and a data folder of its own, stopped by its pid.
 * Without the binary the suite fails, saying how to install it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, cpSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

export interface Etcd {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  /** `127.0.0.1:PORT`, for `--store etcd://...`. */
  member: string;
  pid(): number;
  output(): string;
  stop(): Promise<void>;
  /** Start it again on the same ports and data (after stop). */
  start(): Promise<void>;
  /** Stop it, remove its data and start it again: a fresh, empty etcd on the same ports. */
  wipe(): Promise<void>;
  /** Stop it, copy its data folder aside as `name` (a backup) and start it again. */
  saveData(name: string): Promise<void>;
  /** Stop it, put the copy saved as `name` in place of its data and start it again: a restore from that backup. */
  restoreData(name: string): Promise<void>;
  /** Stop it for good and remove its data. */
  close(): Promise<void>;
}

/** The `etcd` on PATH (Debian's etcd-server puts it in /usr/bin). */
export function etcdBinary(): string {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const file = join(dir || ".", "etcd");
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not in this folder
    }
  }
  throw new Error(`etcd is not installed (no etcd on PATH): this suite needs a real etcd (apt-get install etcd-server; .ci/run installs it as root)`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** `extra`: more flags for etcd (e.g. `--quota-backend-bytes N`). */
/**
 * startEtcd for a before hook: uvu drops an error thrown by one (its tests only show as not
 * run), so the error is said and the suite fails.
 */
export async function startEtcdOrFail(): Promise<Etcd> {
  try {
    return await startEtcd();
  } catch (e) {
    console.error(`\n  FAIL: ${(e as Error).message}\n`);
    process.exitCode = 1;
    throw e;
  }
}

export async function startEtcd(extra: string[] = []): Promise<Etcd> {
  const bin = etcdBinary();
  const [client, peer] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), "lanes-etcd-"));
  const endpoint = `http://127.0.0.1:${client}`;
  let child: ChildProcess | undefined;
  let out = "";
  const args = [
    "--name",
    "lanes-test",
    "--data-dir",
    join(dir, "data"),
    "--listen-client-urls",
    endpoint,
    "--advertise-client-urls",
    endpoint,
    "--listen-peer-urls",
    `http://127.0.0.1:${peer}`,
    "--initial-advertise-peer-urls",
    `http://127.0.0.1:${peer}`,
    "--initial-cluster",
    `lanes-test=http://127.0.0.1:${peer}`,
    ...extra,
  ];
  const etcd: Etcd = {
    endpoint,
    member: `127.0.0.1:${client}`,
    pid: () => child?.pid ?? 0,
    output: () => out,
    async start() {
      child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
      child.stdout!.on("data", (d) => (out += d));
      child.stderr!.on("data", (d) => (out += d));
      const end = Date.now() + 20_000;
      for (;;) {
        try {
          const r = await fetch(`${endpoint}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: "eA==" }), signal: AbortSignal.timeout(1000) });
          if (r.ok) return;
        } catch {
          // not listening yet
        }
        if (child.exitCode !== null || Date.now() > end) throw new Error(`etcd did not start:\n${out.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((r) => c.once("exit", r));
      c.kill("SIGTERM");
      const late = setTimeout(() => c.kill("SIGKILL"), 5000);
      await gone;
      clearTimeout(late);
    },
    async wipe() {
      await etcd.stop();
      rmSync(join(dir, "data"), { recursive: true, force: true });
      await etcd.start();
    },
    async saveData(name) {
      await etcd.stop();
      cpSync(join(dir, "data"), join(dir, `saved-${name}`), { recursive: true });
      await etcd.start();
    },
    async restoreData(name) {
      await etcd.stop();
      rmSync(join(dir, "data"), { recursive: true, force: true });
      cpSync(join(dir, `saved-${name}`), join(dir, "data"), { recursive: true });
      await etcd.start();
    },
    async close() {
      await etcd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await etcd.start();
  return etcd;
}
