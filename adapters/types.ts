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
  /**
   * Send `text` as the reason phrase of this request's status line. Absent where the server
   * cannot (Deno.serve writes the standard phrase, denoland/deno#14822).
   */
  statusText?(text: string): void;
  /**
   * End this response now as cut short (the connection closes before the body is complete),
   * without the server reporting an error of its own. Absent where erroring the body stream
   * already does that quietly (Deno.serve with onError).
   */
  cutBody?(): void;
  /**
   * Call `gone` once if the client goes away before its response is complete; returns what
   * stops watching. Absent where the Request's signal says it (Deno.serve).
   */
  onClientGone?(gone: () => void): () => void;
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
  cwd: string;
  /** Folders the child may read (enforced where the child runtime has permissions). */
  readable: string[];
  onOutput: (stream: "stdout" | "stderr", line: string) => void;
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
  /** A folder lanes may write compiled functions to. */
  cacheDir(): string;
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
  /** Path of the runtime binary that runs a child, or an error message saying what to install. */
  runtimeBinary(runtime: RuntimeName): string;
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
