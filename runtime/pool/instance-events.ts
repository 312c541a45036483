/**
 * What an instance and the rest of the host say to each other: the events an instance reports
 * to its pool, what the server tells a request about its client, and what a request carries.
 */
import type { GuestExit } from "../../adapters/types.ts";
import type { RequestFrame } from "../channel/frames.ts";
import type { LanesError } from "../errors.ts";
import type { Instance } from "./instance.ts";

export interface InstanceEvents {
  /** A line the function logged. */
  log(level: string, text: string, requestId?: string): void;
  /** Lines the function's guest dropped itself, over its budget (../guest/console-capture.ts). */
  dropped(lines: number): void;
  /** A ctx.shared call from a process-lane guest; returns the value or throws. */
  shared(op: "add" | "get" | "set", key: string, value?: string | number): string | number | null | undefined;
  /** The instance is gone (crashed, killed or stopped). */
  gone(instance: Instance, exit: GuestExit): void;
  /** A request finished and freed its slot. */
  released(instance: Instance): void;
  /** The error a request gets when it runs past its deadline. */
  timeoutError?(): LanesError;
  /** A request on this instance ran past its deadline (its client already has its 504). */
  expired?(instance: Instance): void;
  /** A response whose head was sent could not finish: its body was cut short, for `why`. */
  cut?(requestId: string, why: string): void;
}

/** What the server tells a request about its client. */
export interface ClientHooks {
  /** Calls `listener` if the client goes away before its answer is complete (Exchange.onAbort). */
  onGone?(listener: () => void): void;
}

export type RequestInput = Omit<RequestFrame, "t" | "id">;

/**
 * An error message without the host's file paths (they stay in the host log): `/a/b/c.ts` and
 * `file:///a/b/c.ts` become `c.ts`. A path inside a word or a URL (`https://api.example.com/v1/users`)
 * is no file path of the host's: it stays whole.
 */
export function withoutPaths(text: string): string {
  return text.replace(/(?:file:\/\/|(?<![\w:/.-]))\/(?:[^\s/'"():]+\/)+([^\s/'"():]+)/g, "$1");
}
