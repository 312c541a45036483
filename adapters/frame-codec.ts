/**
 * Bodies on JSON transports (child IPC). JSON IPC encodes bytes differently per runtime
 * (Node/Bun: {"0":1,…}, Deno: [1,…]; ArrayBuffer becomes {}), so bodies travel as base64
 * strings, the one encoding all nine parent/child pairs agree on (runtime-matrix P4).
 */
import { Buffer } from "node:buffer";

type WithBody = { t: string; body?: unknown };

export function encodeFrame(frame: WithBody): unknown {
  if (frame.body instanceof ArrayBuffer) {
    return { ...frame, body: Buffer.from(frame.body).toString("base64") };
  }
  return frame;
}

export function decodeFrame(frame: WithBody): unknown {
  if (typeof frame.body === "string") {
    const bytes = Buffer.from(frame.body, "base64");
    frame.body = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  }
  return frame;
}
