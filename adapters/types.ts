/**
 * The one interface between the runtime-agnostic core (`runtime/`) and a host runtime.
 * `adapters/node.ts`, `adapters/bun.ts` and `adapters/deno.ts` implement it; `adapters/mod.ts`
 * is the only place that decides which one runs.
 */
export type RuntimeName = "node" | "bun" | "deno";

/** What this host runtime can enforce. Shown by `lanes validate`, the start-up log and /_lanes/functions. */
export interface Capabilities {
  /** Worker heap limits (resourceLimits) are honoured. Bun ignores them. */
  workerHeapLimit: boolean;
  /** terminate() stops a worker spinning in a CPU loop. Not on Deno (denoland/deno#35657). */
  terminateStopsSpin: boolean;
  /** ReadableStream can be transferred to a worker. */
  transferableStreams: boolean;
}

export interface ServeOptions {
  port: number;
  hostname: string;
}

/** What a server can tell about a request without building web objects. */
export interface RequestInfo {
  /** The header lines as [name, value] pairs in arrival order (names as the client sent them). */
  headerPairs(): [string, string][];
}

export interface RunningServer {
  readonly port: number;
  readonly hostname: string;
  /** Stop accepting, let in-flight requests finish for at most `graceMs`, then close everything. */
  shutdown(graceMs: number): Promise<void>;
}

/** A message channel to a guest (worker thread or child process). */
export interface GuestChannel {
  post(message: unknown, transfer?: ArrayBuffer[]): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Fires once, when the guest is gone. `code` null means killed by `signal`. */
  onExit(listener: (exit: GuestExit) => void): void;
  /** Ask it to stop (terminate a worker, SIGKILL a child). Resolves once it is gone. */
  kill(): Promise<void>;
  /** Resident memory of the guest in bytes, when the runtime can tell; undefined otherwise. */
  rss(): number | undefined;
  /**
   * The host's id of the process that runs the guest (inside its sandbox, the runtime, not
   * bwrap); undefined for a worker thread, or before a sandboxed runtime has started.
   */
  pid(): number | undefined;
}

export interface GuestExit {
  code: number | null;
  signal: string | null;
  /** Error raised by a worker before it exited (e.g. ERR_WORKER_OUT_OF_MEMORY). */
  error?: { name: string; message: string; code?: string };
  /** Last lines a child wrote to stderr. */
  stderrTail: string;
}

export interface WorkerOptions {
  /** Heap limit in MB (resourceLimits); ignored where caps.workerHeapLimit is false. */
  heapMb: number;
  /** The guest's whole environment. */
  env: Record<string, string>;
  /** Passed as workerData. */
  data: unknown;
  /** Lines the worker writes to its own stdout/stderr. */
  onOutput: (stream: "stdout" | "stderr", line: string) => void;
}

export interface ChildOptions {
  runtime: RuntimeName;
  heapMb: number;
  env: Record<string, string>;
  /** The function's folder: the child's working directory (empty in a sandbox but for grants). */
  cwd: string;
  /** Files the child loads besides its entry: the function's bundle. */
  files: string[];
  /** What the manifest grants (absolute paths); enforced by the sandbox and by Deno's flags. */
  grants: Grants;
  /** Run it in the OS sandbox (adapters/sandbox.ts). Only when `sandbox().available`. */
  sandbox: boolean;
  onOutput: (stream: "stdout" | "stderr", line: string) => void;
}

export interface Grants {
  /** false: no network; true: all of it; a list of "host:port": those (Deno children only). */
  net: boolean | string[];
  read: string[];
  write: string[];
}

/** Whether this machine can sandbox children, and with what (or why not). */
export interface SandboxSupport {
  available: boolean;
  /** "bubblewrap 0.8.0" when available; otherwise what is missing and how to get it. */
  detail: string;
}

/** File system and paths: the slice of node:fs / node:path the core needs. */
export interface Sys {
  readText(path: string): Promise<string>;
  writeText(path: string, text: string): Promise<void>;
  exists(path: string): Promise<boolean>;
  isFile(path: string): Promise<boolean>;
  mkdirp(path: string): Promise<void>;
  realpath(path: string): Promise<string>;
  resolve(...parts: string[]): string;
  relative(from: string, to: string): string;
  dirname(path: string): string;
  join(...parts: string[]): string;
  isAbsolute(path: string): boolean;
  fileUrl(path: string): string;
  /** A folder lanes may write compiled functions to: `LANES_CACHE_DIR`, or one in the user's home. */
  cacheDir(): string;
  /**
   * Create `path` (mode 0700) if it is missing; resolve once it is a folder of this user that
   * no one else can write to. Rejects with a message saying what is wrong and how to fix it.
   */
  ensurePrivateDir(path: string): Promise<void>;
  sha256(text: string): string;
  /** Watch files; returns a stop function. */
  watch(paths: string[], onChange: (path: string) => void): () => void;
}

export interface RuntimeAdapter {
  readonly name: RuntimeName;
  readonly version: string;
  readonly caps: Capabilities;
  readonly sys: Sys;
  /** `info` is given where the server can tell more than the Request cheaply (Node). */
  serve(fetch: (request: Request, info?: RequestInfo) => Response | Promise<Response>, options: ServeOptions): Promise<RunningServer>;
  spawnWorker(file: string, options: WorkerOptions): GuestChannel;
  spawnChild(file: string, options: ChildOptions): GuestChannel;
  /** Whether process-lane children can run in the OS sandbox here (checked once, then cached). */
  sandbox(): SandboxSupport;
  /** Path of the runtime binary that runs a child, or an error message saying what to install. */
  runtimeBinary(runtime: RuntimeName): string;
  /**
   * Before a host command: when this process's environment holds more than a host may keep,
   * run the host again with the allow-listed environment (adapters/env.ts) and resolve with its
   * exit code; resolve undefined when this process is to be the host.
   */
  runWithCleanEnv(): Promise<number | undefined>;
  onSignal(signal: "SIGINT" | "SIGTERM", listener: () => void): void;
  exit(code: number): never;
  argv(): string[];
  cwd(): string;
  /** Host process resident memory in bytes. */
  hostRss(): number;
  writeOut(text: string): void;
  writeErr(text: string): void;
  isTTY(): boolean;
}
