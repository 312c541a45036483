/** The one interface between the runtime-agnostic core (`runtime/`) and a host runtime: node.ts, bun.ts and deno.ts in this folder implement it, mod.ts picks one. */
import type { BytePipe } from "../runtime/channel/stream-end.ts";
import type { PostPort } from "../runtime/channel/ring-end.ts";
import type { HeaderPairs } from "../runtime/channel/frames.ts";
import type { Runtime } from "../runtime/manifest/schema.ts";
import type { FolderHolding } from "./folder-hold.ts";

/** A host or child runtime: the manifest's list is the one source. */
export type RuntimeName = Runtime;

/** What this host runtime can enforce. Shown by `lanes validate`, the start-up log and /_lanes/functions. */
export interface Capabilities {
  /** Worker heap limits (resourceLimits) are honoured. Bun ignores them. */
  workerHeapLimit: boolean;
  /** terminate() stops a worker spinning in a CPU loop. Not on Deno (README.md in this folder, Workers). */
  terminateStopsSpin: boolean;
  /** ReadableStream can be transferred to a worker. */
  transferableStreams: boolean;
  /** How the isolate lane's rings wake a sleeping side (README.md in this folder, Channel). */
  ringWakeup: "atomics" | "messages";
  /** How a ring's reader takes frames out of shared memory: by a plain copy where reading it in place is dear (README.md in this folder, Channel). */
  ringReads: "in-place" | "plain-copy";
}

/**
 * How long a connection may hold the server without a request (README.md in this folder, Serving
 * HTTP): one that opens or follows an answer must bring a complete request head within
 * `headerTimeoutMs`; an idle keep-alive connection is closed after `keepAliveMs`. A request in
 * flight is never cut by either.
 */
export interface ConnectionLimits {
  headerTimeoutMs: number;
  keepAliveMs: number;
}
/** Node's keep-alive default; a head within 10 s, as Bun's node:http closes a silent connection. */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { headerTimeoutMs: 10_000, keepAliveMs: 5_000 };

export interface ServeOptions {
  port: number;
  hostname: string;
  connections?: ConnectionLimits;
  /**
   * Serve web Requests as a plain Hono app on this runtime is by default (Node, Bun: @hono/node-server's lightweight Request and
   * Response as globals): only the bench's `direct` baseline, to measure what a Hono user gets; the host keeps the platform's classes.
   */
  defaultWebGlobals?: boolean;
  refused?: (r: RefusedRequest) => void;
}

/** ServeOptions.refused: a request the server answered itself, before any handler (an unserved method, `OPTIONS *`), to log and count as every request is; `target` "" when unread. */
export type RefusedRequest = { method: string; target: string; status: number; requestId: string };

/**
 * One HTTP request as the server holds it, before any web object is built: what the host needs
 * to route a request and relay it to a guest. Names of `header()` are lower case.
 */
export interface Exchange {
  readonly method: string;
  /** The request target as sent: path and query (`/hello?x=1`). */
  readonly target: string;
  /** The absolute URL the client asked for. */
  url(): string;
  /** The header lines as [name, value] pairs, in arrival order. */
  headerPairs(): HeaderPairs;
  header(name: string): string | undefined;
  /** The body as it arrives, or null. It may be read straight into `into` (web-exchange.ts): each chunk is then a view of its memory. */
  body(into?: Uint8Array): AsyncIterable<Uint8Array> | null;
  /** Calls `listener` if the client goes away before its answer is complete, or soon if it has already gone. */
  onAbort(listener: () => void): void;
  remoteAddress(): string;
}

/** An answer the server writes as it is: no web Response is built for it where the server can help it. */
export interface Reply {
  status: number;
  statusText: string;
  headers: HeaderPairs;
  /** The whole body, or null; ignored when `stream` is set. */
  body: Uint8Array | null;
  /** A body still being produced: the head goes to the client at once, the bytes as they come. */
  stream?: ReadableStream<Uint8Array>;
  /**
   * Called once the server no longer reads `body`, so its memory can be reused
   * (runtime/channel/buffer-pool.ts): Node's after writing it, Bun's and Deno's once the
   * Response that copied it is built.
   */
  written?: () => void;
}

export interface HttpHandler {
  /** Answer a request without web objects, or return undefined to have `web` answer it. */
  fast(exchange: Exchange): Reply | Promise<Reply> | undefined;
  /** Requests `fast` declines (lanes' own routes), as web Requests. */
  web(request: Request, exchange: Exchange): Response | Promise<Response>;
}

export interface RunningServer {
  readonly port: number;
  readonly hostname: string;
  /** Stop accepting, let in-flight requests finish for at most `graceMs`, then close everything. */
  shutdown(graceMs: number): Promise<void>;
}

export interface GuestExit {
  code: number | null;
  signal: string | null;
  /** Error raised by a worker before it exited (e.g. ERR_WORKER_OUT_OF_MEMORY). */
  error?: { name: string; message: string; code?: string };
  /** Last lines a child wrote to stderr. */
  stderrTail: string;
  /** Threads or processes its pids cgroup refused it (pids-cgroup.ts), if any. */
  refusedTasks?: number;
}

/** A running worker thread or child process, seen from the host. */
export interface GuestHandle {
  /** Fires once, when the guest is gone. `code` null means killed by `signal`. */
  onExit(listener: (exit: GuestExit) => void): void;
  /**
   * Ask it to stop (terminate a worker, SIGKILL a child). Resolves once it is gone. `failure`:
   * the host has to stop it for this reason (a CPU loop, over its memory); a packed function
   * then takes its whole worker down with it (runtime/pack/), where a plain stop only unloads it.
   */
  kill(failure?: string): Promise<void>;
  /** Resident memory of the guest in bytes, when the runtime can tell; undefined otherwise. */
  rss(): number | undefined;
  /** Threads of a child's process (each takes a process id of the machine's), and those its pids cgroup refused (pids-cgroup.ts); undefined for a worker, or without a cgroup. */
  threads?(): number | undefined;
  refusedTasks?(): number | undefined;
  /** The host's id of the guest's runtime process (in a sandbox, not bwrap's); undefined for a worker, or before it started. */
  pid(): number | undefined;
  /** Why a child that runs on no longer holds its stdin or stdout (channel-fds.ts); undefined while it does. */
  channelLost?(): string | undefined;
}

export interface WorkerHandle extends GuestHandle {
  /** The worker's message port: carries what travels beside the ring. */
  port: PostPort;
}

export interface ChildHandle extends GuestHandle {
  /** The child's stdin (to it) and stdout (from it). */
  pipe: BytePipe;
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
  /**
   * `lanes dev --inspect`: start the runtime's inspector on 127.0.0.1 (a free port; the runtime
   * prints its URL on stderr). In the sandbox the child then shares the host's network
   * namespace, or the port could not be reached.
   */
  inspect?: boolean;
  /** The guest built as a startup-snapshot entry (CommonJS): node children start restored from it once its blob is ready (adapters/node-snapshot.ts). */
  snapshotEntry?: string;
  /** Lines the child writes to stderr. */
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
  /** How a child's threads are bounded here: a pids cgroup each, or the watchdog alone and why (pids-cgroup.ts). */
  threads?: string;
}

/** File system and paths: the slice of node:fs / node:path the core needs; holding a store's folder (folder-hold.ts). */
export interface Sys extends FolderHolding {
  readText(path: string): Promise<string>;
  writeText(path: string, text: string): Promise<void>;
  exists(path: string): Promise<boolean>;
  isFile(path: string): Promise<boolean>;
  /** What `path` is, a link never followed ("other": a device, fifo or socket); undefined when nothing is there. */
  entryKind(path: string): Promise<"file" | "folder" | "link" | "other" | undefined>;
  /** A folder and those above it; one inside the cache folder keeps that private (made again private if it was removed). */
  mkdirp(path: string): Promise<void>;
  realpath(path: string): Promise<string>;
  /** What a link holds (its target, as written, never followed). */
  readlink(path: string): Promise<string>;
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
  readBytes(path: string): Promise<Uint8Array>;
  /** The secrets key's file (a secret of lanes itself): rejects, saying why, when it is missing, unreadable, not a regular file, or may be read or changed by another user. */
  readSecretFile(path: string): Promise<Uint8Array>;
  /**
   * Write through a temp file renamed over `path`, so a reader never sees half a file.
   * `durable`: the file is fsynced before the rename and its folder after, so a crash leaves
   * the old content or the new one. `beforeRename` runs once the temp file is complete.
   */
  writeFile(path: string, bytes: Uint8Array, o?: { durable?: boolean; beforeRename?: () => Promise<void> }): Promise<void>;
  /** The names in a folder; [] when it does not exist. */
  list(dir: string): Promise<string[]>;
  /** Delete a file or folder and all in it (nothing when missing); `durable`: its parent is fsynced after, so a crash cannot bring the name back. */
  remove(path: string, o?: { durable?: boolean }): Promise<void>;
  /**
   * What identifies a file's version without reading it (size, modification time, inode), or
   * undefined when it is not a file: the compile cache reuses a bundle while its sources' stamps hold.
   */
  stamp(path: string): Promise<string | undefined>;
  /** When a file or folder was last modified (ms since the epoch; the link itself, never followed), or undefined when it does not exist. */
  modifiedAt(path: string): Promise<number | undefined>;
  /** Set a file's or folder's modification time to now (the cache's record of a use); nothing when it is gone. */
  touch(path: string): Promise<void>;
  /** Give a file a second name: a hard link when it can, else a copy (through a temp name, so a reader never sees half of it). Only for files that never change. */
  copy(from: string, to: string): Promise<void>;
  /** Watch files, and folders with every folder under them but node_modules and dot-folders; returns a stop function. */
  watch(paths: string[], onChange: (path: string) => void): () => void;
}

export interface RuntimeAdapter {
  readonly name: RuntimeName;
  readonly version: string;
  readonly caps: Capabilities;
  readonly sys: Sys;
  serve(handler: HttpHandler, options: ServeOptions): Promise<RunningServer>;
  spawnWorker(file: string, options: WorkerOptions): WorkerHandle;
  spawnChild(file: string, options: ChildOptions): ChildHandle;
  /** Whether process-lane children can run in the OS sandbox here (checked once, then cached). */
  sandbox(): SandboxSupport;
  /** Path of the runtime binary that runs a child, or an error message saying what to install. */
  runtimeBinary(runtime: RuntimeName): string;
  /** Before a host command: run the host again with the allow-listed environment if need be (adapters/env.ts), resolving with its exit code; undefined in the host. */
  runWithCleanEnv(): Promise<number | undefined>;
  /** Before `lanes load`: the same for its allocator's environment (env.ts, runWithKeepingAllocator). */
  runWithKeepingAllocator(): Promise<number | undefined>;
  /** Run `fn` at the end of this turn of the event loop (after I/O): batches leave from here. */
  schedule(fn: () => void): void;
  onSignal(signal: "SIGINT" | "SIGTERM", listener: () => void): void;
  exit(code: number): never;
  /** This process's id. */
  readonly pid: number;
  /** Whether a process with this id runs (a zombie counts as running). */
  processAlive(pid: number): boolean;
  /** Kill the sandboxes a host that died left stuck before they started; how many (adapters/sandbox-process.ts). */
  killStuckSandboxes(): number;
  argv(): string[];
  cwd(): string;
  /** Host process resident memory in bytes. */
  hostRss(): number;
  /** CPU cores this process may use (the packed workers' bound). */
  cores(): number;
  /**
   * A full garbage collection of the host's own heap, so memory the host no longer uses goes
   * back to the system (runtime/host/idle-memory.ts; README.md in this folder, Memory).
   */
  collectGarbage(): void;
  /** CPU time the host process used since it started (every thread: isolates included), in seconds. */
  hostCpu(): { user: number; system: number };
  writeOut(text: string): void;
  writeErr(text: string): void;
  isTTY(): boolean;
  /** All of stdin (at most `limit` bytes; more rejects), or undefined when stdin is a terminal. */
  readStdin(limit: number): Promise<Uint8Array | undefined>;
  /** Colours on stdout: it is a terminal and NO_COLOR is unset or empty (https://no-color.org). */
  color(): boolean;
}
