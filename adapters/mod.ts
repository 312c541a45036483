/** The one place that detects which runtime hosts lanes. */
import type { RuntimeAdapter, RuntimeName } from "./types.ts";

export function detectRuntime(): RuntimeName {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  if (g.Bun !== undefined) return "bun";
  if (g.Deno !== undefined) return "deno";
  return "node";
}

export async function loadAdapter(): Promise<RuntimeAdapter> {
  switch (detectRuntime()) {
    case "bun":
      return (await import("./bun.ts")).bunAdapter;
    case "deno":
      return (await import("./deno.ts")).denoAdapter;
    case "node":
      return (await import("./node.ts")).nodeAdapter;
  }
}

export type * from "./types.ts";
