/** How a process-lane guest talks to its host: frames over its stdin and stdout (README.md in this folder, Channel). */
import { writeSync } from "node:fs";
import { Socket, type SocketConstructorOpts } from "node:net";
import { Writable } from "node:stream";
import type { BytePipe } from "../runtime/channel/stream-end.ts";
import { childBodyFile } from "./body-file.ts";
import { WriteBacklog } from "./write-backlog.ts";

/** Deno: writes up to this size are made at once (a pipe holds 64 KiB); larger ones in the background. */
const SYNC_WRITE_MAX = 32 * 1024;

interface BunSink {
  write(bytes: Uint8Array): number;
  flush(): number | Promise<number>;
}

interface BunStdio {
  stdin: { stream(): ReadableStream<Uint8Array> };
  stdout: { writer(): BunSink };
}

interface DenoStdio {
  stdout: { writeSync(bytes: Uint8Array): number; write(bytes: Uint8Array): Promise<number> };
}

/**
 * A child's frames: in on stdin, out on stdout. The fastest way differs per runtime
 * (README.md in this folder, Channel): Node reads `process.stdin`, Bun `Bun.stdin.stream()`, and both
 * write with `fs.writeSync(1)` (Bun hands what its socket cannot take at once to its own writer);
 * Bun's `process.stdin` costs 10 µs more per request than its own stream. Deno reads fd 0
 * through a `node:net` Socket: its `process.stdin` costs 3x more per wake-up than
 * `Deno.stdin.read`, and that one hands each read to a thread of its blocking pool
 * (README.md in this folder, Child processes).
 * Anything else that would write to stdout (the function's own `process.stdout.write`,
 * `Deno.stdout`) is turned into log lines by `onStray`, so it cannot corrupt the frames.
 */
export function childPipe(onStray: (text: string) => void): BytePipe {
  const deno = (globalThis as { Deno?: DenoStdio }).Deno;
  const bun = (globalThis as { Bun?: BunStdio }).Bun;
  const stray = new Writable({
    write(chunk: Uint8Array | string, _enc, done) {
      onStray(typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk));
      done();
    },
  });
  // replaced before anything opens the real one: opening it would make fd 1 non-blocking
  Object.defineProperty(process, "stdout", { value: stray, configurable: true, writable: true });
  const backlog = new WriteBacklog();
  let write: BytePipe["write"];
  let onData: (l: (chunk: Uint8Array) => void) => void;
  if (deno) {
    write = denoWriter(deno.stdout.writeSync.bind(deno.stdout), deno.stdout.write.bind(deno.stdout), backlog);
    const text = (b: Uint8Array) => onStray(new TextDecoder().decode(b));
    deno.stdout.writeSync = (b) => {
      text(b);
      return b.byteLength;
    };
    deno.stdout.write = async (b) => {
      text(b);
      return b.byteLength;
    };
    onData = (l) => {
      const reads = new ReadArena();
      // `onread` is Node's too, but only @types/node's connect() options declare it
      const stdin = new Socket({
        fd: 0,
        readable: true,
        writable: false,
        onread: { buffer: () => reads.next(), callback: (n: number, buf: Uint8Array) => void l(reads.took(buf, n)) },
      } as SocketConstructorOpts);
      stdin.on("end", () => process.exit(0)); // the host is gone: never outlive it
      stdin.on("error", () => process.exit(0));
    };
  } else if (bun) {
    write = bunWriter(() => bun.stdout.writer(), backlog);
    onData = (l) => {
      void (async () => {
        // each chunk is a new array: frames and bodies may be kept as views into it
        const reader = bun.stdin.stream().getReader();
        for (;;) {
          const r = await reader.read();
          if (r.done) return process.exit(0); // the host is gone: never outlive it
          l(r.value);
        }
      })();
    };
  } else {
    write = blockingWriter(1, backlog);
    onData = (l) => {
      process.stdin.on("data", (chunk: Buffer) => l(chunk));
      process.stdin.on("end", () => process.exit(0)); // the host is gone: never outlive it
    };
  }
  const file = childBodyFile();
  const room = () => backlog.room();
  return file ? { write, onData, room, file } : { write, onData, room };
}

/**
 * Where a Deno child's reads land. fd 0 is read by Deno's own stream handle, as `node:net` gives
 * it for a descriptor, on the event loop; `Deno.stdin.read` instead duplicated the descriptor,
 * handed the read to a thread of Deno's blocking pool and closed the duplicate after, for every
 * read (2.1 µs of CPU per relayed hello on those threads; README.md in this folder, Child processes).
 *
 * Each read goes into the unused rest of a 1 MiB arena, never into memory a previous read
 * filled, so frames and bodies stay views into it (a new arena once the rest is too short).
 * A read may take 64 KiB, doubled after a read that filled it, up to what a Deno host's grown
 * pipe holds (pipe-size.ts), and halved after one that used under a quarter: a 256 KiB body comes
 * in one read and needs no assembling (`body` through a Deno host's process lane, CPU of host and
 * child per request, six alternating rounds of 4 s: median 2.28 ms against 2.48 with 64 KiB reads).
 */
const READ_MIN = 64 * 1024;
const READ_MAX = 512 * 1024;
const ARENA = 1024 * 1024;

class ReadArena {
  #arena = new Uint8Array(ARENA);
  #at = 0;
  #size = READ_MIN;

  /** Where the next read goes. */
  next(): Uint8Array {
    if (this.#arena.byteLength - this.#at < this.#size) {
      this.#arena = new Uint8Array(Math.max(ARENA, this.#size));
      this.#at = 0;
    }
    return this.#arena.subarray(this.#at, this.#at + this.#size);
  }

  /** The bytes a read put in `buf` (the array `next` gave); later reads go after them. */
  took(buf: Uint8Array, got: number): Uint8Array {
    this.#at += got;
    const size = this.#size;
    if (got === size) this.#size = Math.min(size * 2, READ_MAX);
    else if (got < size / 4) this.#size = Math.max(size / 2, READ_MIN);
    return buf.subarray(0, got);
  }
}

/** Resolves once a child's writes that could not be made at once are done (undefined: none are waiting). */
let backgroundWrites: (() => Promise<void> | undefined) | undefined;

export function childWritesDone(): Promise<void> | undefined {
  return backgroundWrites?.();
}

/**
 * Deno's stdout is a 64 KiB pipe on a Deno host (Node's and Bun's children get socketpairs:
 * README.md in this folder, Channel), so a large answer written at once blocked the child until the
 * host had read all but the last 64 KiB of it, and it read no request meanwhile. Small writes
 * are still made at once (cheaper); a larger one, and whatever follows it while it is going
 * on, is written in the background, in order. A write that fails means the host is gone.
 */
function denoWriter(writeSync: (b: Uint8Array) => number, writeAsync: (b: Uint8Array) => Promise<number>, backlog: WriteBacklog): BytePipe["write"] {
  const queue: [Uint8Array, (() => void) | undefined][] = [];
  let pumping: Promise<void> | undefined;
  const pump = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      let b = next[0];
      while (b.byteLength > 0) b = b.subarray(await writeAsync(b));
      backlog.taken(next[0].byteLength);
      next[1]?.();
    }
    pumping = undefined; // in the same step that found the queue empty: nothing can slip in between
  };
  backgroundWrites = () => pumping;
  return (bytes, written) => {
    if (!pumping && bytes.byteLength <= SYNC_WRITE_MAX) {
      for (let at = 0; at < bytes.byteLength; ) at += writeSync(bytes.subarray(at));
      return written?.();
    }
    backlog.add(bytes.byteLength);
    queue.push([bytes, written]);
    pumping ??= pump().catch(() => process.exit(0)); // the host is gone: never outlive it
  };
}

/**
 * Bun makes a child's fd 1 non-blocking, and a large answer meets a full socket often (an
 * answer of 256 KiB against the 208 KiB a socketpair holds by default). What a write cannot
 * make at once goes to Bun's own writer for fd 1 (a FileSink: it keeps a copy of what is left
 * and writes it as soon as the socket has room), and frames that follow wait until it is all
 * written, in order; then writes are made at once again. Retrying after 1 ms instead held a Bun
 * host's `body` through the process lane at 1,000-1,100 req/s (README.md in this folder, Child
 * processes). The sink is made on the first write that needs it: made earlier, it would hold fd 1
 * for nothing.
 */
function bunWriter(makeSink: () => BunSink, backlog: WriteBacklog): BytePipe["write"] {
  let sink: BunSink | undefined;
  /** What the sink holds of the write it was given. */
  let inSink = 0;
  let flushing: Promise<void> | undefined;
  const waiting: [Uint8Array, (() => void) | undefined][] = [];
  // until all is written: frames that waited may start another flush
  backgroundWrites = () =>
    flushing &&
    (async () => {
      while (flushing) await flushing;
    })();
  const flushed = () => {
    flushing = undefined;
    let done = inSink;
    inSink = 0;
    const again = waiting.splice(0);
    for (const [bytes] of again) done += bytes.byteLength;
    // what waits again counts again (write adds it)
    for (const [bytes, written] of again) write(bytes, written);
    backlog.taken(done);
  };
  const write: BytePipe["write"] = (bytes, written) => {
    if (flushing) {
      backlog.add(bytes.byteLength);
      return void waiting.push([bytes, written]);
    }
    let at = 0;
    try {
      while (at < bytes.byteLength) at += writeSync(1, at === 0 ? bytes : bytes.subarray(at));
      return written?.();
    } catch (e) {
      if ((e as { code?: string }).code !== "EAGAIN") throw e;
    }
    sink ??= makeSink();
    inSink = bytes.byteLength - at;
    backlog.add(inSink);
    sink.write(bytes.subarray(at)); // a copy: `bytes` may be used again at once
    written?.();
    const done = sink.flush();
    // a write or flush that fails: the host is gone, never outlive it
    if (typeof done !== "number") flushing = done.then(flushed).catch(() => process.exit(0));
    else {
      backlog.taken(inSink);
      inSink = 0;
    }
  };
  return write;
}

/**
 * Writes all of `bytes` to `fd` in order. The fd is normally blocking; if the runtime made it
 * non-blocking and the pipe is full, what is left waits and is retried.
 */
function blockingWriter(fd: number, waits: WriteBacklog): BytePipe["write"] {
  // each with what to call once it is all written
  const backlog: [Uint8Array, (() => void) | undefined][] = [];
  // what is left once a write would block (if fd 1 was made non-blocking): exitNow waits for it
  let emptied: Promise<void> | undefined;
  let empty = () => {};
  backgroundWrites = () => emptied;
  const drain = () => {
    while (backlog.length > 0) {
      const next = backlog[0]!;
      try {
        const n = writeSync(fd, next[0]);
        if (n === next[0].byteLength) {
          backlog.shift();
          waits.taken(n);
          next[1]?.();
        } else {
          next[0] = next[0].subarray(n);
          waits.taken(n);
        }
      } catch (e) {
        if ((e as { code?: string }).code !== "EAGAIN") throw e;
        emptied ??= new Promise<void>((r) => (empty = r));
        setTimeout(drain, 1);
        return;
      }
    }
    empty();
    emptied = undefined;
  };
  return (bytes, written) => {
    waits.add(bytes.byteLength);
    backlog.push([bytes, written]);
    if (backlog.length === 1) drain();
  };
}
