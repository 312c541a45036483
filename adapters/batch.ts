/**
 * Frames posted in one turn of the event loop travel as one message: under load a hop costs one
 * wake-up of the other side per turn instead of one per frame (a Node host at 20k requests/s
 * sends batches of ~15). A batch is one JSON string: the cheapest value to clone or send, and
 * Deno's worker_threads walks every object it receives looking for MessagePorts
 * (patchMessagePortIfFound), which a string skips. Between threads, bodies travel beside it,
 * transferred.
 */
type Frame = { body?: unknown; [k: string]: unknown };
type Packed = [string, ...ArrayBuffer[]];

export interface Batcher<F> {
  post(frame: F): void;
  /** Send what is pending now (before the process or thread ends). */
  flush(): void;
}

/**
 * Bytes of bodies after which a batch goes at once: a batch is one message the other side
 * decodes whole, and fifteen 256 KiB bodies as base64 in one JSON message pushed a Bun child
 * past its memory limit (229 MB for memoryMb 128, measured).
 */
const MAX_BATCH_BODY_BYTES = 64 * 1024;

function bodyBytes(frame: unknown): number {
  const body = (frame as Frame).body;
  return body instanceof ArrayBuffer ? body.byteLength : typeof body === "string" ? body.length : 0;
}

/** Collects frames until the end of this event-loop turn (setImmediate), then sends them as one. */
function collector<F>(send: (frames: F[]) => void): Batcher<F> {
  let frames: F[] = [];
  let bytes = 0;
  const flush = () => {
    if (frames.length === 0) return;
    const f = frames;
    frames = [];
    bytes = 0;
    send(f);
  };
  return {
    post(frame) {
      bytes += bodyBytes(frame);
      if (frames.push(frame) === 1 && bytes < MAX_BATCH_BODY_BYTES) setImmediate(flush);
      else if (bytes >= MAX_BATCH_BODY_BYTES) flush();
    },
    flush,
  };
}

/** For a worker thread: frames as one JSON string, their ArrayBuffer bodies transferred beside it. */
export function threadBatcher(postMessage: (message: Packed, transfer: ArrayBuffer[]) => void): Batcher<unknown> {
  return collector<unknown>((frames) => {
    const bodies: ArrayBuffer[] = [];
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i] as Frame;
      if (f.body instanceof ArrayBuffer) frames[i] = { ...f, body: bodies.push(f.body) - 1 };
    }
    postMessage([JSON.stringify(frames), ...bodies], bodies);
  });
}

export function threadUnbatch(message: unknown, each: (frame: any) => void): void {
  const m = message as Packed;
  for (const f of JSON.parse(m[0]) as Frame[]) {
    if (typeof f.body === "number") f.body = m[1 + f.body];
    each(f);
  }
}

/**
 * For a JSON IPC channel (bodies are already base64 strings): the frames as one JSON string. A
 * string crosses Deno's IPC 4x cheaper than the same frames as objects (28 against 113 µs of
 * parent CPU per round trip of 14 frames), Node's 1.3x, Bun's the same (measured).
 */
export function ipcBatcher(send: (message: unknown) => void): Batcher<unknown> {
  return collector<unknown>((frames) =>
    // a frame with a large body goes as it is: wrapping a 350 KB base64 string in a second JSON
    // string costs Node more than it saves (10.7 against 7.4 ms of CPU per 256 KiB echo)
    frames.length === 1 && bodyBytes(frames[0]) >= MAX_BATCH_BODY_BYTES ? send(frames[0]) : send(JSON.stringify(frames)),
  );
}

/** A batch (string), or one frame sent on its own as an object (a guest's last words). */
export function ipcUnbatch(message: unknown, each: (frame: any) => void): void {
  if (typeof message !== "string") return each(message);
  for (const f of JSON.parse(message) as unknown[]) each(f);
}
