/** A function as the host serves it: its spec, its pool (or why it has none), its version. */
import type { Compiled } from "../compile.ts";
import type { LanesError } from "../errors.ts";
import type { FunctionRecent } from "../console/recent.ts";
import type { FunctionSpec } from "../manifest/load.ts";
import type { FunctionMeter } from "../ops/meter.ts";
import type { Pool } from "../pool/pool.ts";
import type { BodyReads } from "./body.ts";

export interface Served {
  spec: FunctionSpec;
  /** Absent when the function failed to compile: it answers 503 with `error`. */
  pool?: Pool;
  error?: LanesError;
  version: string;
  limits: unknown;
  /** The bundle and the source files it was built from (watched by `lanes dev`). */
  compiled?: Compiled;
  /** Requests inside the host for it now: a reload stops the old pool only once this is 0. */
  active: number;
  /** What its secrets' values are (SecretEnv.stamp, never a value): a change restarts it. */
  secretStamp?: string;
  /** Its requests and instance events are counted here (absent with `--no-metrics`). */
  meter?: FunctionMeter;
  /** The console's feed of its last requests (runtime/console/recent.ts); absent when the console is off. */
  recent?: FunctionRecent;
  /** Its body reads' deadlines, behind one timer (body.ts), made on its first request with a body. */
  bodyReads?: BodyReads;
  /** With a deploy store: the version this entry serves, and its share of the requests (the function lists). */
  deployment?: { version: string; percent: number };
}

/** One line of the request log. */
export interface RequestLog {
  method: string;
  path: string;
  fn: string | undefined;
  lane: string | undefined;
  status: number;
  ms: number;
  requestId: string;
  /** The function version that served it: the deployed version with a deploy store, else its bundle hash. */
  version?: string;
  /** The W3C traceparent the function got. */
  traceparent?: string;
}
