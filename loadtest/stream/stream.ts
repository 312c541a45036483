/**
 * stream: a 2 MiB answer streamed in 64 KiB chunks, each a new array as a function making its
 * answer as it goes would send it. Under 50 connections that is 50 streams at once, each up to
 * its 2 MiB send window in flight (runtime/channel/window.ts): what the process lane's child
 * holds, and gives back, when many answers stream at once.
 */
const CHUNK = 64 * 1024;
const CHUNKS = 32;

export default {
  fetch(): Response {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array(CHUNK).fill(97 + (sent % 26)));
        if (++sent === CHUNKS) controller.close();
      },
    });
    return new Response(body, { headers: { "content-type": "application/octet-stream" } });
  },
};

export const bench = {
  check: (status: number, body: Uint8Array) => (status === 200 && body.length === CHUNK * CHUNKS ? undefined : `expected 200 with ${CHUNK * CHUNKS} bytes`),
};
