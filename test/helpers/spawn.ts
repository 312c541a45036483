/**
 * Spawn a process from a test and learn its real exit status. Deno's node:child_process
 * reports close(null, "SIGTERM") for a child that caught SIGTERM and exited 0; Deno.Command
 * reports it right, so under Deno this uses Deno.Command (feature-detected here, once).
 */
import { spawn as nodeSpawn } from "node:child_process";

export interface Exit {
  code: number | null;
  signal: string | null;
}

export interface Spawned {
  pid: number;
  onOutput(listener: (text: string) => void): void;
  exited: Promise<Exit>;
  kill(signal?: "SIGTERM" | "SIGINT" | "SIGKILL"): void;
}

interface DenoChild {
  pid: number;
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  status: Promise<{ code: number; signal: string | null }>;
  kill(signal: string): void;
}
const Deno = (globalThis as { Deno?: { Command: new (cmd: string, o: object) => { spawn(): DenoChild } } }).Deno;

/**
 * `inherit`: open descriptors to hand the process at fds 3, 4, ... (node:child_process then,
 * on every runtime: Deno.Command cannot pass them).
 */
export function spawnProcess(cmd: string, args: string[], env?: Record<string, string>, inherit: (number | "ignore")[] = []): Spawned {
  const listeners: ((text: string) => void)[] = [];
  const emit = (text: string) => {
    for (const l of listeners) l(text);
  };
  if (Deno && inherit.length === 0) {
    const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", stdin: "null", ...(env ? { env, clearEnv: true } : {}) }).spawn();
    const pump = async (s: ReadableStream<Uint8Array>) => {
      const d = new TextDecoder();
      for await (const chunk of s) emit(d.decode(chunk, { stream: true }));
    };
    const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]);
    return {
      pid: child.pid,
      onOutput: (l) => void listeners.push(l),
      exited: child.status.then(async (s) => {
        await pumped.catch(() => {});
        return { code: s.signal ? null : s.code, signal: s.signal };
      }),
      kill: (signal = "SIGTERM") => {
        try {
          child.kill(signal);
        } catch {
          // already gone
        }
      },
    };
  }
  const child = nodeSpawn(cmd, args, { stdio: ["ignore", "pipe", "pipe", ...inherit], ...(env ? { env } : {}) });
  child.stdout!.on("data", (d: Uint8Array) => emit(String(d)));
  child.stderr!.on("data", (d: Uint8Array) => emit(String(d)));
  return {
    pid: child.pid!,
    onOutput: (l) => void listeners.push(l),
    exited: new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal }))),
    kill: (signal = "SIGTERM") => void child.kill(signal),
  };
}
